"""Each hook, driven by a throwaway plugin through the Python API and the CLI."""

import inspect
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from pydantic import Field

import xaikit
from xaikit.plugin import hookspecs
from xaikit.plugin import manager as plugins
from xaikit.testing import run_cli


class Ones(xaikit.Explainer):
    name = "ones"
    description = "every pixel matters equally"

    class Params(xaikit.Params):
        scale: float = Field(1.0, gt=0, description="Value of every pixel.")

    def explain(self, model, image, class_index, params):
        return np.full(model.input_shape, params.scale, np.float32)


class Raw(xaikit.Sink):
    name = "test-raw"
    description = "raw array"
    extensions = (".raw", ".npy")

    def write(self, explanation, path, params):
        with open(path, "wb") as f:
            np.save(f, explanation.attribution)


class Fixed(xaikit.ModelAdapter):
    name = "fixed"
    description = "a constant model for the string 'fixed'"

    def accepts(self, ref):
        return ref == "fixed"

    def load(self, ref, params):
        from xaikit.testing import tiny_cnn
        return xaikit.load_model(lambda x: tiny_cnn(x, 2), input_shape=(1, 4, 4), name="fixed")


class MeanMap(xaikit.Metric):
    name = "mean-map"
    description = "the map's mean times a factor"
    higher_is_better = True

    class Params(xaikit.Params):
        factor: float = Field(1.0, gt=0, description="What the mean is multiplied by.")

    def evaluate(self, batch, params):
        return [float(a.mean()) * params.factor for a in batch.attributions]


class ThrowawayPlugin:
    @xaikit.hookimpl
    def register_explainers(self, register):
        register(Ones())

    @xaikit.hookimpl
    def register_sinks(self, register):
        register(Raw())

    @xaikit.hookimpl
    def register_model_adapters(self, register):
        register(Fixed())

    @xaikit.hookimpl
    def register_metrics(self, register):
        register(MeanMap())


@contextmanager
def explainers_of(package, *explainers):
    """A throwaway plugin of ``package`` registering ``explainers``, for the block."""
    class Plugin:
        @xaikit.hookimpl
        def register_explainers(self, register):
            for explainer in explainers:
                register(explainer)

    name = plugins.register_plugin(Plugin(), name=package.replace("-pkg", ""),
                                   package=package)
    try:
        yield
    finally:
        plugins.unregister_plugin(name)


@pytest.fixture
def plugin():
    name = plugins.register_plugin(ThrowawayPlugin(), name="throwaway", package="test-package")
    yield name
    plugins.unregister_plugin(name)


def test_register_explainers(plugin, models, images, tmp_path):
    assert "ones" in xaikit.explainers()
    exp = xaikit.explain("ones", model=models["grey"], image=images["grey"], scale=2.0)
    assert (exp.attribution == 2.0).all()
    listing = run_cli(["list"]).output
    assert re.search(r"ones +test-package \(test_plugins\) +every pixel matters equally", listing)
    out = tmp_path / "ones.raw"
    result = run_cli(["run", "ones", "-m", str(models["grey"]), "-i",
                                      str(images["grey"]), "--scale", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (np.load(out) == 3.0).all()
    help_text = " ".join(run_cli(["run", "ones", "--help"]).output.split())
    assert "--scale FLOAT Value of every pixel. [default: 1.0; range: > 0]" in help_text


def test_register_sinks(plugin, models, images, tmp_path):
    exp = xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"], seed=0)
    np.testing.assert_array_equal(np.load(exp.save(tmp_path / "a.raw")), exp.attribution)
    exp.save(tmp_path / "b.raw", sink="test-raw")
    assert (tmp_path / "b.raw").stat().st_size > 0
    with pytest.raises(xaikit.XaikitError, match=re.escape(
            "the test-raw sink writes .raw, .npy, not .bin; name the output")):
        exp.save(tmp_path / "b.bin", sink="test-raw")  # its extensions say what it writes
    with pytest.raises(xaikit.XaikitError, match=re.escape(
            "output: several sinks write .npy (npy, test-raw); choose one with --sink")):
        exp.save(tmp_path / "c.npy")
    result = run_cli(["run", "smoothgrad", "-m", str(models["grey"]), "-i",
                                      str(images["grey"]), "-o", str(tmp_path / "cli.raw"),
                                      "--sink", "test-raw", "--sink", "grey"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(tmp_path / "cli.test-raw.raw"),
                                     str(tmp_path / "cli.grey.png")]


def test_an_explainer_option_wins_over_a_sink_option_spelled_alike(models, images, tmp_path):
    class Clashing(xaikit.Explainer):
        name = "clashing"

        class Params(xaikit.Params):
            heatmap_alpha: float = Field(1.0, description="The explainer's own.")

        def explain(self, model, image, class_index, params):
            return np.full(model.input_shape, params.heatmap_alpha, np.float32)

    class Plugin:
        @xaikit.hookimpl
        def register_explainers(self, register):
            register(Clashing())

    name = plugins.register_plugin(Plugin(), name="clashing")
    try:
        help_text = run_cli(["run", "clashing", "--help"]).output
        assert help_text.count("--heatmap-alpha") == 1 and "The explainer's own." in help_text
        result = run_cli([
            "run", "clashing", "-m", str(models["grey"]), "-i", str(images["grey"]), "-o",
            str(tmp_path / "m.png"), "--sink", "npy", "--sink", "heatmap",
            "--heatmap-alpha", "2"])
        assert result.exit_code == 0, result.output
        assert (np.load(tmp_path / "m.npy.npy") == 2.0).all()  # reached the explainer only
    finally:
        plugins.unregister_plugin(name)


def test_register_metrics(plugin, models, images, tmp_path):
    assert "mean-map" in xaikit.metrics()
    rows = xaikit.evaluate("ones", models["grey"], images["grey"], ["mean-map"],
                           explainer_params={"ones": {"scale": 2.0}},
                           metric_params={"mean-map": {"factor": 3.0}}, progress=False)
    assert [(r.explainer, r.metric, r.value) for r in rows] == [("ones", "mean-map", 6.0)]
    listing = run_cli(["list"]).output
    assert re.search(r"Metrics:\n(  .*\n)*  mean-map +test-package \(test_plugins\) +the map's "
                     r"mean times a factor", listing)
    result = run_cli(["evaluate", "-e", "ones", "-m", models["grey"], "-i", images["grey"],
                      "--metric", "mean-map", "--mean-map-factor", "0.5", "--ones-scale", "4"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split() == ["ones", "2.000"]


def test_register_model_adapters(plugin, images):
    model = xaikit.load_model("fixed")
    assert model.name == "fixed" and model.input_shape == (1, 4, 4)
    exp = xaikit.explain("smoothgrad", model="fixed", image=images["grey"], class_index=1)
    assert exp.attribution.shape == (1, 4, 4)


def test_plugins_are_gone_after_unregistering(models, images):
    name = plugins.register_plugin(ThrowawayPlugin(), name="temporary")
    assert "ones" in xaikit.explainers()
    plugins.unregister_plugin(name)
    assert "ones" not in xaikit.explainers()


def test_a_name_registered_twice_is_an_error_naming_both(models, images):
    class Clash:
        @xaikit.hookimpl
        def register_explainers(self, register):
            register(Ones())

    first = plugins.register_plugin(ThrowawayPlugin(), name="first", package="pkg-one")
    second = plugins.register_plugin(Clash(), name="second", package="pkg-two")
    try:
        expected = ("explainer name 'ones' is registered twice: by plugin 'first' from pkg-one "
                    "and by plugin 'second' from pkg-two")
        with pytest.warns(plugins.PluginWarning, match=re.escape(expected)):
            names = xaikit.explainers()
        assert "smoothgrad" in names and "ones" not in names  # the others still work
        with pytest.raises(xaikit.PluginError, match=re.escape(expected)):
            xaikit.explain("ones", model=models["grey"], image=images["grey"])
        listing = run_cli(["list"])  # list and run tell the same story
        assert "smoothgrad" in listing.stdout and " ones " not in listing.stdout
        assert listing.stderr == f"warning: {expected}\n"
        result = run_cli(["run", "ones", "-m", models["grey"], "-i", images["grey"]])
        assert result.exit_code == 1
        assert result.stderr == f"warning: {expected}\nerror: {expected}\n"
    finally:
        plugins.unregister_plugin(first)
        plugins.unregister_plugin(second)


class Impostor(Ones):
    name = "smoothgrad"


def test_a_builtin_name_registered_again_keeps_the_builtin_working(models, images, tmp_path):
    def smoothgrad():
        return xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                              num_samples=3, seed=0).attribution

    before = smoothgrad()
    with explainers_of("impostor-pkg", Impostor()):
        expected = ("explainer name 'smoothgrad' is registered twice: by plugin 'smoothgrad' "
                    "from xaikit and by plugin 'impostor' from impostor-pkg; xaikit's own is "
                    "used, not impostor-pkg's")
        with pytest.warns(plugins.PluginWarning, match=re.escape(expected)):
            assert np.array_equal(smoothgrad(), before)
        listing = run_cli(["list"])
        assert re.search(r"smoothgrad +xaikit \(xaikit_smoothgrad\) +SmoothGrad", listing.stdout)
        assert listing.stderr == f"warning: {expected}\n"
        out = tmp_path / "map.npy"
        result = run_cli(["run", "smoothgrad", "-m", models["grey"], "-i", images["grey"],
                          "-n", "3", "--seed", "0", "-o", out])
        assert result.exit_code == 0 and result.stderr == f"warning: {expected}\n"
        assert np.array_equal(np.load(out), before)


class Misspelt:
    @xaikit.hookimpl
    def register_explainer(self, register):
        register(Ones())


def test_a_hook_function_that_is_no_hook_is_reported_naming_plugin_and_hook():
    name = plugins.register_plugin(Misspelt(), name="misspelt", package="misspelt-pkg")
    try:
        expected = ("plugin 'misspelt' from misspelt-pkg: 'register_explainer' is not an xaikit "
                    "hook and is never called; did you mean 'register_explainers'?")
        with pytest.warns(plugins.PluginWarning, match=re.escape(expected)):
            assert "ones" not in xaikit.explainers()
        assert run_cli(["list"]).stderr == f"warning: {expected}\n"
    finally:
        plugins.unregister_plugin(name)


class Capturing(Ones):
    name = "capturing"

    class Params(xaikit.Params):
        input: str = Field("x", description="Would be captured by the run's --input.")
        seed: int = Field(0, ge=0, description="The run's seed: allowed.")


def test_parameters_named_like_run_options_are_refused_naming_plugin_and_field(models, images):
    with explainers_of("capture-pkg", Capturing(), Ones()):
        expected = ("plugin 'capture' from capture-pkg: explainer 'capturing' is not "
                    "registered: its parameter 'input' has the name of a run option "
                    "(--input); rename it")
        with pytest.warns(plugins.PluginWarning, match=re.escape(expected)):
            names = xaikit.explainers()
        assert "capturing" not in names and "ones" in names  # the plugin's others work
        with pytest.raises(xaikit.PluginError, match=re.escape(expected)):
            xaikit.explain("capturing", model=models["grey"], image=images["grey"])
        result = run_cli(["run", "capturing", "-m", models["grey"], "-i", images["grey"]])
        assert result.exit_code == 1
        assert result.stderr == f"warning: {expected}\nerror: {expected}\n"


def test_every_run_option_and_api_keyword_is_reserved():
    from xaikit.plugin.params import API_KEYWORDS, RUN_OPTIONS
    from xaikit.run.request import RunParams

    keywords = {name for function in (xaikit.explain, xaikit.explain_dataset)
                for name, p in inspect.signature(function).parameters.items()
                if p.kind is not p.VAR_KEYWORD}
    assert set(RunParams.model_fields) | keywords <= RUN_OPTIONS | API_KEYWORDS


def test_a_failing_hook_is_reported_and_the_others_still_work(models, images):
    class Broken:
        @xaikit.hookimpl
        def register_explainers(self, register):
            raise RuntimeError("boom")

    name = plugins.register_plugin(Broken(), name="broken", package="broken-pkg")
    try:
        with pytest.warns(plugins.PluginWarning, match="plugin 'broken' from broken-pkg failed "
                          "in register_explainers: RuntimeError: boom"):
            assert "smoothgrad" in xaikit.explainers()
        assert xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                              num_samples=2).attribution.shape == (1, 8, 8)
    finally:
        plugins.unregister_plugin(name)


def test_smoothgrad_arrives_through_the_entry_point_group():
    from importlib.metadata import entry_points

    eps = entry_points()
    group = eps.select(group="xaikit") if hasattr(eps, "select") else eps["xaikit"]
    assert {ep.name: ep.value for ep in group}["smoothgrad"] == "xaikit_smoothgrad"
    assert "xaikit_smoothgrad" not in plugins.DEFAULT_PLUGINS
    reg = plugins.registry().items["explainer"]["smoothgrad"]
    assert reg.plugin == "smoothgrad" and reg.package == "xaikit"


def test_the_hook_reference_is_generated_from_every_hooks_docstring(doctrees):
    from built_docs import read_doctree
    from sphinx import addnodes

    page = read_doctree(doctrees, "plugins")
    documented = {sig["ids"][0]: sig.parent for sig in page.findall(addnodes.desc_signature)
                  if sig["ids"]}
    relay = vars(plugins.plugin_manager().hook)
    specs = {name for name, caller in relay.items() if caller.has_spec()}
    assert set(plugins.HOOKS) == specs
    for name in plugins.HOOKS:
        spec = getattr(hookspecs, name)
        doc = inspect.getdoc(spec)
        assert doc and ":param register:" in doc and ":returns:" in doc, name
        assert "Called once" in doc, name
        entry = documented[f"xaikit.plugin.hookspecs.{name}"]
        text = " ".join(entry.astext().split())
        assert f"{name}{inspect.signature(spec)}" in text, name
        summary = re.sub(r":\w+:`~?([^`]+)`", r"\1", doc.split("\n\n")[0])
        assert " ".join(summary.split()) in text, name  # the docstring, rendered


def test_the_guide_names_every_hook_with_its_signature():
    guide = (Path(__file__).parent.parent / "docs" / "plugin-guide.rst").read_text()
    for name in plugins.HOOKS:
        assert f"{name}{inspect.signature(getattr(hookspecs, name))}" in guide, name


def test_every_hook_has_a_test():
    source = Path(__file__).read_text()
    for name in plugins.HOOKS:
        assert f"def test_{name}(" in source, name


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(monkeypatch):
    from importlib import metadata

    broken = metadata.EntryPoint("broken", "no_such_module_for_xaikit", "xaikit")
    fake = metadata.EntryPoints([broken]) if hasattr(metadata, "EntryPoints") else None
    monkeypatch.setattr(metadata, "entry_points",
                        lambda: fake if fake is not None else {"xaikit": [broken]})
    monkeypatch.setattr(plugins, "_load_failures", [])
    pm = plugins._new_plugin_manager()
    plugins._load_entry_points(pm)
    assert plugins._load_failures == [
        "plugin 'broken' from no_such_module_for_xaikit failed to load: "
        "No module named 'no_such_module_for_xaikit'"]
    assert pm.get_plugin("broken") is None and pm.get_plugin("xaikit.builtins.adapters.nnp")
