# `make demo`, `make test` and `make docs` create .venv on first use with a Python that nnabla
# supports.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs clean

EXAMPLES := examples/xaikit-gradcam examples/xaikit-integrated-gradients

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(EXAMPLES))
	@if [ ! -x $(BIN)/python ]; then \
		py="$${PYTHON:-$$(scripts/find-python.sh)}" || exit 1; \
		echo "creating $(VENV) with $$py"; \
		"$$py" -m venv $(VENV) || exit 1; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]' $(foreach e,$(EXAMPLES),-e "$(e)[test]")
	@touch $@

demo: $(STAMP)
	$(BIN)/xaikit run smoothgrad --model demo/digits.nnp --image demo/images/digit_3.png \
		--class-index 3 --seed 0 --output smoothgrad.png

# The suite builds the docs too (tests/test_docs.py) and runs their examples.
test: $(STAMP)
	$(BIN)/ruff check xaikit xaikit_smoothgrad _xaikit_pytest.py tests scripts benchmarks examples docs
	$(BIN)/python -m pytest

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html -d docs/_build/doctrees docs docs/_build/html
	@echo "open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) smoothgrad.png docs/_build
