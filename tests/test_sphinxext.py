"""xaikit.sphinxext: tables from the installed plugins' schemas, pictures from a model."""

import io
from typing import List, Literal, Optional

import numpy as np
import pytest
from pydantic import Field
from sphinx.testing.util import SphinxTestApp

import xaikit
from xaikit.cli.options import schema_options
from xaikit.plugin import manager as plugins
from xaikit.sphinxext.params_tables import param_rows


class Scaled(xaikit.Explainer):
    name = "scaled"
    description = "every pixel matters equally"

    class Params(xaikit.Params):
        strength: float = Field(1.0, gt=0, le=10, description="Value of every pixel.",
                                json_schema_extra={"aliases": ["-s"]})
        mode: Literal["flat", "ramp"] = Field("flat", description="Shape of the map.")
        fast_path: bool = Field(False, description="Take the shortcut.")
        layers: List[int] = Field(default_factory=list, description="Layers to use.")
        seed: Optional[int] = Field(None, ge=0, description="Seed.")

    def explain(self, model, image, class_index, params):
        return np.full(model.input_shape, params.strength, np.float32)


ScaledParams = Scaled.Params  # for the ``schema MODULE.CLASS`` target


class Plugin:
    @xaikit.hookimpl
    def register_explainers(self, register):
        register(Scaled())


@pytest.fixture
def plugin():
    name = plugins.register_plugin(Plugin(), name="scaled-plugin", package="scaled-package")
    yield name
    plugins.unregister_plugin(name)


def test_rows_show_each_field_with_the_clis_spellings():
    rows = {row.name: row for row in param_rows(Scaled.Params)}
    assert list(rows) == ["strength", "mode", "fast_path", "layers", "seed"]
    strength = rows["strength"]
    assert (strength.spellings, strength.type, strength.default, strength.range,
            strength.description) == (["--strength", "-s"], "float", "1.0", "> 0, ≤ 10",
                                      "Value of every pixel.")
    assert rows["mode"].type == "'flat' | 'ramp'"
    assert rows["fast_path"].spellings == ["--fast-path/--no-fast-path",
                                           "--fast_path/--no-fast_path"]
    assert (rows["layers"].type, rows["layers"].default) == ("list[int]", "[]")
    assert (rows["seed"].type, rows["seed"].default) == ("int | None", "None")


def test_the_docs_and_the_cli_cannot_disagree():
    for row, option in zip(param_rows(Scaled.Params), schema_options(Scaled.Params)):
        documented = {part for spelling in row.spellings for part in spelling.split("/")}
        assert documented == set(option.opts + option.secondary_opts)


def build(tmp_path, index: str, **config) -> tuple:
    """Build a one-page site in-process; its HTML and its warnings."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text("extensions = ['xaikit.sphinxext']\n")
    (src / "index.rst").write_text(index)
    warnings = io.StringIO()
    app = SphinxTestApp("html", srcdir=src, builddir=tmp_path / "build", freshenv=True,
                        confoverrides=config, status=io.StringIO(), warning=warnings)
    try:
        app.build()
    finally:
        app.cleanup()
    return (app.outdir / "index.html").read_text(), warnings.getvalue()


def test_an_installed_plugin_gets_its_table_and_a_section_in_all(plugin, tmp_path):
    html, warnings = build(tmp_path, "Params\n======\n\n.. xaikit-params:: scaled\n\n"
                                     ".. xaikit-params:: schema test_sphinxext.ScaledParams\n\n"
                                     "All\n---\n\n.. xaikit-params:: all\n\n"
                                     "Option :xaikit-option:`scaled strength`.\n")
    assert not warnings
    assert html.count("Value of every pixel.") == 3
    assert 'id="xaikit-explainer-scaled"' in html and "(package scaled-package)" in html
    assert "--strength</span></code>, <code" in html and "-s</span></code>." in html


@pytest.mark.parametrize("source,message", [
    (".. xaikit-params:: nothing", "no explainer named 'nothing'"),
    (".. xaikit-params:: sink grey extra", "is not 'run', an explainer's name"),
    (".. xaikit-params:: schema xaikit.plugin.params.missing",
     "is not an importable pydantic model"),
    (":xaikit-option:`smoothgrad noise`", "is not TARGET FIELD"),
])
def test_unknown_targets_are_warnings(tmp_path, source, message):
    assert message in build(tmp_path, f"Page\n====\n\n{source}\n")[1]


def test_demo_pictures_are_computed_from_the_model(tmp_path):
    from xaikit.testing import make_image, make_nnp

    make_nnp(tmp_path / "tiny.nnp", num_classes=3)
    make_image(tmp_path / "in.png", size=(8, 8))
    html, warnings = build(tmp_path, "Demo\n====\n\n.. xaikit-demo:: ../in.png\n"
                           "   :vary: noise_level 0 0.3\n   :params: num_samples=2 seed=0\n",
                           xaikit_demo_model="../tiny.nnp")
    assert not warnings
    assert "noise_level=0.3" in html and "smoothgrad on tiny.nnp with num_samples=2, seed=0" in html
    pictures = sorted((tmp_path / "build" / "html" / "_images").glob("*.png"))
    assert len(pictures) == 3  # the input and two maps, each 8x8 enlarged 4 times
    from PIL import Image

    assert {Image.open(p).size for p in pictures} == {(32, 32)}


def test_run_shows_the_command_and_what_it_wrote(tmp_path):
    from PIL import Image

    from xaikit.builtins.sinks.grey import grey_map
    from xaikit.testing import make_image, make_nnp

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    make_nnp(inputs / "tiny.nnp", num_classes=3)
    make_image(inputs / "in.png", size=(8, 8))
    html, warnings = build(tmp_path, "Run\n===\n\n.. xaikit-run::\n   :copy: ../inputs\n\n"
                           "   xaikit run smoothgrad -m inputs/tiny.nnp -i inputs/in.png \\\n"
                           "       -n 2 --seed 0 --sink grey --sink npy -o map.png\n")
    assert not warnings
    assert "map.grey.png" in html and "8x8, shown x16" in html
    assert "map.npy.npy</span></code>: a float32 array of shape (1, 8, 8)" in html
    (picture,) = (tmp_path / "build" / "html" / "_images").glob("*.png")
    exp = xaikit.explain("smoothgrad", model=inputs / "tiny.nnp", image=inputs / "in.png",
                         num_samples=2, seed=0)
    shown = np.asarray(Image.open(picture))
    assert shown.shape == (128, 128)
    np.testing.assert_array_equal(shown[::16, ::16], grey_map(exp.attribution))
    assert not list(inputs.glob("map*"))  # written in a folder of its own


def test_run_of_a_failing_command_fails_the_build(tmp_path):
    warnings = build(tmp_path, "Run\n===\n\n.. xaikit-run::\n\n   xaikit run smoothgrad "
                               "-m missing.nnp -i in.png\n")[1]
    assert "xaikit-run: xaikit run smoothgrad -m missing.nnp -i in.png" in warnings
    assert "error: --model: missing.nnp: no such model file" in warnings


def test_a_demo_value_none_leaves_the_parameter_out_with_the_options_it_needs(tmp_path):
    from PIL import Image

    from xaikit.testing import make_image, make_nnp

    make_nnp(tmp_path / "tiny.nnp", num_classes=3)
    make_image(tmp_path / "in.png", size=(8, 8))
    html, warnings = build(tmp_path, "Demo\n====\n\n.. xaikit-demo:: ../in.png\n"
                           "   :explainer: gradient\n   :class-index: 1\n"
                           "   :vary: smooth_samples none 8\n"
                           "   :params: smooth_variant=smoothgrad_sq seed=0\n",
                           xaikit_demo_model="../tiny.nnp")
    assert not warnings
    assert "smooth_samples=none" in html and "smooth_samples=8" in html
    pictures = sorted((tmp_path / "build" / "html" / "_images").glob("*.png"))
    assert len(pictures) == 3  # the input, the plain map and a different smoothed one
    assert len({Image.open(p).tobytes() for p in pictures}) == 3
