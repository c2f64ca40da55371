"""The helpers plugin authors test with: fixtures, run_cli and check_explainer."""

import re
import sys
import types
from typing import Optional

import numpy as np
import pytest
from pydantic import Field

import xaikit
from xaikit.plugin.manager import PluginWarning, register_plugin, unregister_plugin
from xaikit.testing import ContractWarning, check_explainer, run_cli


def test_the_pytest_fixtures_are_a_tiny_model_and_image(tiny_nnp, tiny_image, tiny_model):
    assert tiny_nnp.suffix == ".nnp" and tiny_image.suffix == ".png"
    assert tiny_model.input_shape == (1, 8, 8) and tiny_model.num_classes == 3
    assert xaikit.load_image(tiny_image, tiny_model).shape == (1, 8, 8)


def test_run_cli_ends_user_errors_with_one_line(tiny_nnp):
    result = run_cli(["run", "smoothgrad", "-m", tiny_nnp])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --input: output_result.csv: no such file")
    assert result.stderr.count("\n") == 1


def test_an_installed_explainer_passes():
    check_explainer("smoothgrad", num_samples=2, seed=0)


class Good(xaikit.Explainer):
    name = "good-for-check"
    description = "ones"

    class Params(xaikit.Params):
        scale: float = Field(1.0, gt=0, description="Value of every pixel.")
        absolute: bool = Field(False, description="A flag, to pass through the CLI.")

    def explain(self, model, image, class_index, params):
        return np.full(model.input_shape, params.scale, np.float32)


def test_an_unregistered_explainer_is_registered_for_the_check_only():
    check_explainer(Good(), scale=2.0, absolute=True)
    assert "good-for-check" not in xaikit.explainers()


def broken(explain=None, params=None, description="broken"):
    attributes = {"name": "broken-for-check", "description": description}
    if explain:
        attributes["explain"] = lambda self, model, image, c, p: explain(model, image)
    if params:
        attributes["Params"] = params
    return type("Broken", (Good,), attributes)()


class Undescribed(xaikit.Params):
    scale: float = 1.0


def mutate(model, image):
    image += 1
    return np.zeros(model.input_shape, np.float32)


@pytest.mark.parametrize("explainer,message", [
    (broken(description=""), "broken-for-check: no description"),
    (broken(params=Undescribed), "parameter 'scale' has no description"),
    (broken(lambda m, i: np.zeros((2, 2), np.float32)), "returned shape (2, 2), expected (1, 8"),
    (broken(lambda m, i: np.zeros(m.input_shape)), "returned float64, not float32"),
    (broken(lambda m, i: np.full(m.input_shape, np.nan, np.float32)), "NaN or infinite"),
    (broken(lambda m, i: xaikit.Attribution(i, {"x": np.float32(1)})), "metadata that JSON"),
    (broken(lambda m, i: [0.0]), "returned a list, not an array or xaikit.Attribution"),
    (broken(mutate), "explain changed its input image"),
])
def test_a_broken_explainer_fails_saying_what_broke(explainer, message):
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_explainer(explainer)
    assert "broken-for-check" not in xaikit.explainers()


def test_an_explain_batch_that_changes_its_images_fails():
    class Mutating(Good):
        name = "mutating-for-check"

        def explain_batch(self, model, images, class_indices, params):
            images *= 2
            return np.ones(images.shape, np.float32)

    with pytest.raises(AssertionError, match="explain_batch changed its input images"):
        check_explainer(Mutating())


class Unbounded(Good):
    name = "unbounded-for-check"

    class Params(xaikit.Params):
        scale: float = Field(1.0, allow_inf_nan=False, description="Value of every pixel.")
        steps: Optional[int] = Field(None, ge=1, description="Bounded below: fine.")


def test_a_number_without_bounds_gets_a_warning_not_a_failure():
    with pytest.warns(ContractWarning, match="unbounded-for-check: parameter 'scale' is a "
                      "number without bounds") as caught:
        check_explainer(Unbounded())
    assert len(caught) == 1


class Capturing(Good):
    name = "capturing-for-check"

    class Params(xaikit.Params):
        labels: str = Field("", description="Would be captured by the run's --labels.")


def test_a_parameter_named_like_a_run_option_fails():
    with pytest.raises(AssertionError, match=re.escape(
            "capturing-for-check: parameter 'labels' has the name of a run option (--labels); "
            "rename it")):
        check_explainer(Capturing())


def test_a_hook_function_that_is_no_hook_fails(monkeypatch):
    module = types.ModuleType("misspelt_for_check")

    @xaikit.hookimpl
    def register_explainer(register):
        register(Good())

    module.register_explainer = register_explainer
    monkeypatch.setitem(sys.modules, module.__name__, module)
    misspelt = type("Misspelt", (Good,), {"name": "misspelt-for-check",
                                          "__module__": module.__name__})
    with pytest.raises(AssertionError, match=re.escape(
            "misspelt-for-check: in 'misspelt_for_check': 'register_explainer' is not an "
            "xaikit hook and is never called; did you mean 'register_explainers'?")):
        check_explainer(misspelt())


def test_an_installed_explainer_whose_plugin_has_a_misspelt_hook_fails():
    class Plugin:
        @xaikit.hookimpl
        def register_explainers(self, register):
            register(Good())

        @xaikit.hookimpl
        def register_sink(self, register):
            pass

    name = register_plugin(Plugin(), name="misspelt-sink", package="misspelt-pkg")
    try:
        with pytest.warns(PluginWarning, match="'register_sink' is not an xaikit hook"):
            with pytest.raises(AssertionError, match="did you mean 'register_sinks'"):
                check_explainer("good-for-check")
    finally:
        unregister_plugin(name)
