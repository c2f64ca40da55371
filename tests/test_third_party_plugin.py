"""A careless third-party package installed beside xaikit: a misspelt hook, a parameter
named ``input`` and an explainer named ``smoothgrad``. Each problem is a warning naming
it, in the Python API and in every command, and the built-in SmoothGrad keeps working;
once in-process, once installed for real (an entry point) and run in subprocesses."""

import os
import subprocess
import sys
import textwrap
from importlib import import_module

import numpy as np
import pytest

import xaikit
from xaikit.plugin import manager as plugins
from xaikit.testing import check_explainer, run_cli

PLUGIN = '''
    """A careless plugin."""

    import numpy as np
    from pydantic import Field

    import xaikit


    class Impostor(xaikit.Explainer):
        name = "smoothgrad"
        description = "not SmoothGrad"

        def explain(self, model, image, class_index, params):
            return np.zeros(model.input_shape, np.float32)


    class Capturing(xaikit.Explainer):
        name = "careless-input"
        description = "takes a parameter named input"

        class Params(xaikit.Params):
            input: str = Field("x", description="Captured by the run's --input.")

        def explain(self, model, image, class_index, params):
            return np.ones(model.input_shape, np.float32)


    @xaikit.hookimpl
    def register_explainers(register):
        register(Impostor())
        register(Capturing())


    @xaikit.hookimpl
    def register_explainer(register):  # misspelt: never called
        register(Impostor())
'''

WARNINGS = [
    "plugin 'careless' from xaikit-careless: 'register_explainer' is not an xaikit hook and "
    "is never called; did you mean 'register_explainers'?",
    "plugin 'careless' from xaikit-careless: explainer 'careless-input' is not registered: "
    "its parameter 'input' has the name of a run option (--input); rename it",
    "explainer name 'smoothgrad' is registered twice: by plugin 'smoothgrad' from xaikit and "
    "by plugin 'careless' from xaikit-careless; xaikit's own is used, not xaikit-careless's",
]


@pytest.fixture
def installed(tmp_path):
    """The package, installed as pip installs one: its module and a .dist-info with the
    entry point, in a folder to put on the path."""
    site = tmp_path / "site"
    (site / "xaikit_careless-1.0.dist-info").mkdir(parents=True)
    (site / "careless_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (site / "xaikit_careless-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: xaikit-careless\nVersion: 1.0\n")
    (site / "xaikit_careless-1.0.dist-info" / "entry_points.txt").write_text(
        "[xaikit]\ncareless = careless_plugin\n")
    return site


def smoothgrad(models, images):
    return xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                          num_samples=3, seed=0).attribution


def cli_args(models, images, out):
    return ["run", "smoothgrad", "-m", models["grey"], "-i", images["grey"], "-n", "3",
            "--seed", "0", "-o", out]


def test_in_process(installed, models, images, tmp_path, monkeypatch):
    expected = smoothgrad(models, images)
    monkeypatch.syspath_prepend(str(installed))
    module = import_module("careless_plugin")
    name = plugins.register_plugin(module, name="careless", package="xaikit-careless")
    try:
        with pytest.warns(plugins.PluginWarning) as caught:
            assert np.array_equal(smoothgrad(models, images), expected)
        assert [str(w.message) for w in caught] == WARNINGS
        shown = "".join(f"warning: {message}\n" for message in WARNINGS)
        listing = run_cli(["list"])
        assert listing.stderr == shown
        assert "xaikit-careless" not in listing.stdout and "careless-input" not in listing.stdout
        result = run_cli(cli_args(models, images, tmp_path / "map.npy"))
        assert result.exit_code == 0 and result.stderr == shown
        assert np.array_equal(np.load(tmp_path / "map.npy"), expected)
        with pytest.raises(AssertionError, match="'register_explainer' is not an xaikit hook"):
            check_explainer(module.Impostor())
        with pytest.raises(AssertionError, match="parameter 'input' has the name of a run"):
            check_explainer(module.Capturing())
    finally:
        plugins.unregister_plugin(name)


def test_installed_for_real(installed, models, images, tmp_path):
    expected = smoothgrad(models, images)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(installed)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}

    def run(*args):
        return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                              env=env, timeout=120)

    shown = "".join(f"warning: {message}\n" for message in WARNINGS)
    listing = run("-m", "xaikit", "list")
    assert listing.returncode == 0 and listing.stderr == shown
    command = run("-m", "xaikit", *cli_args(models, images, tmp_path / "cli.npy"))
    assert command.returncode == 0 and command.stderr == shown
    assert np.array_equal(np.load(tmp_path / "cli.npy"), expected)
    api = run("-c", "import sys, numpy, xaikit; numpy.save(sys.argv[1], xaikit.explain("
              "'smoothgrad', model=sys.argv[2], image=sys.argv[3], num_samples=3, seed=0)"
              ".attribution)", tmp_path / "api.npy", models["grey"], images["grey"])
    assert api.returncode == 0, api.stderr
    assert all(f"PluginWarning: {message}" in api.stderr for message in WARNINGS), api.stderr
    assert np.array_equal(np.load(tmp_path / "api.npy"), expected)
