# `make demo`, `make test` and `make docs` create .venv on first use with a Python that nnabla
# supports.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs mutation clean FORCE

EXAMPLES := examples/xaikit-gradcam examples/xaikit-integrated-gradients

# The venv's Python if it runs one that nnabla supports; otherwise the venv is made again.
VENV_PYTHON := $(shell scripts/find-python.sh $(BIN)/python 2>/dev/null)

$(STAMP): $(VENV)/pyvenv.cfg pyproject.toml $(addsuffix /pyproject.toml,$(EXAMPLES))
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs,onnx,dask]' $(foreach e,$(EXAMPLES),-e "$(e)[test]")
	# nnabla's ONNX importer, without the converter's TensorFlow requirements (see pyproject)
	$(BIN)/python -m pip install --quiet --no-deps nnabla-converter==1.39.0
	@touch $@

$(VENV)/pyvenv.cfg: $(if $(VENV_PYTHON),,FORCE)
	@py=$$(scripts/find-python.sh $(PYTHON)) || exit 1; \
	if [ -e $(VENV) ]; then \
		had=$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
			2>/dev/null) && had="Python $${had%% *}" || had="no Python that runs"; \
		echo "$(VENV) has $$had, which nnabla does not support: making it again with $$py"; \
		rm -rf $(VENV); \
	fi; \
	echo "creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

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

# Mutation testing (docs/testing.rst): slow, so not part of `make test`.
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutation]'
	$(BIN)/python scripts/mutation.py

clean:
	rm -rf $(VENV) smoothgrad.png docs/_build mutants

FORCE:
