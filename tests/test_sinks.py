"""The built-in sinks: what each writes, its size and mode, and its parameters."""

import numpy as np
import pytest
from PIL import Image

import xaikit
from xaikit.builtins.sinks.grey import grey_map
from xaikit.builtins.sinks.heatmap import colour_table, scaled_magnitude
from xaikit.builtins.sinks.panel import caption, map_title, tile_size
from xaikit.plugin.manager import registry
from xaikit.testing import make_image

INFERNO_TOP = (252, 255, 164)  # matplotlib's inferno ends at (0.988, 0.998, 0.645)


@pytest.fixture(scope="module")
def grey_exp(models, images):
    """A map of the 8x8 grey model on an 8x8 image: map and image share their pixels."""
    return xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                          class_index=1, num_samples=4, seed=0, labels=["a", "b", "c"])


@pytest.fixture(scope="module")
def wide(models, tmp_path_factory):
    """A 70x40 RGB image explained by the RGB model, whose input is 10x6."""
    path = make_image(tmp_path_factory.mktemp("wide") / "wide.png", size=(40, 70), mode="RGB")
    return xaikit.explain("smoothgrad", model=models["rgb"], image=path, class_index=2,
                          num_samples=4, seed=0)


def opened(path):
    image = Image.open(path)
    image.load()
    return image


def test_each_sink_writes_its_size_and_mode(grey_exp, tmp_path):
    grey = opened(grey_exp.save(tmp_path / "g.png", sink="grey"))
    heat = opened(grey_exp.save(tmp_path / "h.png", sink="heatmap"))
    panel = opened(grey_exp.save(tmp_path / "p.png", sink="panel", tile_size=64))
    raw = np.load(grey_exp.save(tmp_path / "n.npy", sink="npy"))
    assert (grey.mode, grey.size) == ("L", (8, 8))
    assert (heat.mode, heat.size) == ("RGB", (8, 8))
    margin = 8
    assert panel.mode == "RGB" and panel.width == 3 * 64 + 4 * margin
    assert raw.dtype == np.float32 and raw.shape == (1, 8, 8)
    np.testing.assert_array_equal(raw, grey_exp.attribution)


def test_heatmap_is_at_the_original_resolution_of_a_non_square_image(wide, tmp_path):
    assert wide.attribution.shape == (3, 6, 10)
    heat = opened(wide.save(tmp_path / "wide.png", sink="heatmap"))
    assert (heat.mode, heat.size) == ("RGB", (70, 40))
    as_given = opened(wide.save(tmp_path / "image.png", sink="heatmap", alpha=0.0))
    np.testing.assert_array_equal(np.asarray(as_given), np.asarray(wide.image.convert("RGB")))


def test_heatmap_alpha_one_is_the_colour_map_with_the_top_colour_at_the_peak(grey_exp, tmp_path):
    heat = np.asarray(opened(grey_exp.save(tmp_path / "h.png", sink="heatmap", alpha=1.0)))
    magnitude = np.abs(grey_exp.attribution).sum(axis=0)
    peak = np.unravel_index(np.argmax(magnitude), magnitude.shape)
    low = np.unravel_index(np.argmin(magnitude), magnitude.shape)
    assert tuple(heat[peak]) == INFERNO_TOP
    assert tuple(heat[low]) == tuple(colour_table("inferno")[0])
    viridis = np.asarray(opened(grey_exp.save(tmp_path / "v.png", sink="heatmap", alpha=1.0,
                                              colormap="viridis")))
    assert tuple(viridis[peak]) == tuple(colour_table("viridis")[255])


def test_heatmap_percentile_clips_the_top(grey_exp, tmp_path):
    heat = np.asarray(opened(grey_exp.save(tmp_path / "h.png", sink="heatmap", alpha=1.0,
                                           percentile=50)))
    top = (heat == INFERNO_TOP).all(axis=-1)
    assert top.mean() >= 0.5
    scaled = scaled_magnitude(grey_exp.attribution, 50)
    assert np.array_equal(top, scaled == 1.0)


def test_scaled_magnitude_of_a_constant_map_is_zero():
    assert not scaled_magnitude(np.full((3, 4, 4), 2.0), 99).any()


def test_panel_shows_image_map_and_overlay_enlarged_without_smoothing(grey_exp, tmp_path):
    panel = np.asarray(opened(grey_exp.save(tmp_path / "p.png", sink="panel", tile_size=64)))
    margin, tile = 8, 64
    top = (panel[:, margin] != 255).any(axis=-1).argmax()  # first row of the first tile
    first = panel[top:top + tile, margin:margin + tile]
    expected = grey_exp.image.convert("RGB").resize((tile, tile), Image.NEAREST)
    np.testing.assert_array_equal(first, np.asarray(expected))
    second = panel[top:top + tile, 2 * margin + tile:2 * margin + 2 * tile]
    magnitude = np.abs(grey_exp.attribution).sum(axis=0)
    row, col = np.unravel_index(np.argmax(magnitude), magnitude.shape)
    assert tuple(second[row * 8 + 4, col * 8 + 4]) == INFERNO_TOP
    below = panel[top + tile + margin:]
    assert (below < 128).any()  # the caption is written


def test_panel_caption_names_class_label_and_score(grey_exp, wide):
    label, stability, score = caption(grey_exp)
    assert label == "class 1 (b)"
    assert stability == f"stability {grey_exp.metadata['stability']:.3f} (4 samples)"
    assert score == f"output {grey_exp.score:.3f}" and 0 < grey_exp.score < 1  # differentiated
    assert caption(wide)[0] == "class 2"


def reporting(reported, score=0.9):
    rng = np.random.default_rng(0)
    return xaikit.Explanation(attribution=rng.random((1, 8, 8), dtype=np.float32),
                              input=rng.random((1, 8, 8), dtype=np.float32), class_index=1,
                              explainer="smoothgrad", params={}, model="m", score=score,
                              reported=reported)


def test_panel_names_the_method_and_the_score_that_was_differentiated(tmp_path):
    logit = reporting({"method": "vargrad", "differentiated": "logit",
                       "differentiated_score": 2.5, "samples": 48, "stability": 0.9716})
    output = reporting({"method": "smoothgrad_sq", "differentiated": "output",
                        "differentiated_score": 0.9})
    assert (map_title(logit), caption(logit)) == ("vargrad map", (
        "class 1", "stability 0.972 (48 samples)", "logit 2.500, output 0.900"))
    assert (map_title(output), caption(output)) == ("smoothgrad_sq map", ("class 1", "",
                                                                         "output 0.900"))
    assert map_title(reporting({})) == "smoothgrad map"  # an explainer that reports nothing
    titles = [np.asarray(opened(exp.save(tmp_path / f"{i}.png", sink="panel", tile_size=64)))
              for i, exp in enumerate([logit, output])]
    differ = (titles[0] != titles[1]).any(axis=(1, 2))
    assert differ[:8 + 16].any()  # the titles, above the tiles
    assert differ[-24:].any()  # the captions, below them


def test_panel_tiles_keep_a_non_square_image_shape(wide, tmp_path):
    panel = opened(wide.save(tmp_path / "p.png", sink="panel", tile_size=256))
    assert tile_size((70, 40), 256) == (210, 120)  # enlarged by 3
    assert tile_size((1000, 500), 256) == (256, 128)  # reduced
    assert panel.width == 3 * 210 + 4 * 16


def test_preprocessed_input_is_drawn_from_the_input(models):
    model = xaikit.load_model(models["grey"])
    pixels = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 8, 8)
    exp = xaikit.explain("smoothgrad", model=model, image=pixels, num_samples=2, seed=0)
    assert exp.image is None
    from xaikit.builtins.sinks.heatmap import base_image

    base = np.asarray(base_image(exp))
    assert base.shape == (8, 8, 3) and base[0, 0, 0] == 0 and base[7, 7, 0] == 255


@pytest.mark.parametrize("sink", ["heatmap", "panel"])
@pytest.mark.parametrize("extension,format_name", [(".jpg", "JPEG"), (".bmp", "BMP"),
                                                   (".tif", "TIFF"), (".webp", "WEBP")])
def test_image_sinks_write_the_format_the_extension_names(grey_exp, tmp_path, sink, extension,
                                                          format_name):
    path = grey_exp.save(tmp_path / f"h{extension}", sink=sink)
    assert path.name == f"h{extension}" and opened(path).format == format_name


@pytest.mark.parametrize("sink", ["grey", "heatmap", "panel"])
def test_image_sinks_refuse_a_format_pillow_cannot_write(grey_exp, tmp_path, sink):
    with pytest.raises(xaikit.XaikitError, match=rf"the {sink} sink writes .png, .jpg, .*, not "
                                                 r"\.xyz; name the output .*h\.png"):
        grey_exp.save(tmp_path / "h.xyz", sink=sink)
    reg = registry().get("sink", sink)  # a sink called directly says why
    with pytest.raises(xaikit.XaikitError, match=r"output: Pillow does not write .* as \.xyz"):
        reg.write(grey_exp, tmp_path / "h.xyz", reg.Params())
    assert list(tmp_path.iterdir()) == []


def test_extension_selects_the_sink(grey_exp, tmp_path):
    np.testing.assert_array_equal(np.asarray(opened(grey_exp.save(tmp_path / "g.png"))),
                                  grey_map(grey_exp.attribution))
    assert np.load(grey_exp.save(tmp_path / "n.npy")).shape == (1, 8, 8)
    assert opened(grey_exp.save(tmp_path / "x.jpg")).mode == "L"  # grey wins among several


@pytest.mark.parametrize("params,message", [
    ({"alpha": 1.5}, "alpha: Input should be less than or equal to 1"),
    ({"percentile": 0}, "percentile: Input should be greater than 0"),
    ({"colormap": "nope"}, "colormap: not a colour map name"),
    ({"size": 3}, "size: unknown parameter"),
])
def test_bad_sink_parameters_name_the_parameter(grey_exp, tmp_path, params, message):
    with pytest.raises(xaikit.ParameterError, match=message):
        grey_exp.save(tmp_path / "h.png", sink="heatmap", **params)


def test_the_readmes_panel_is_what_its_command_draws(tmp_path):
    """The README's picture is committed (the docs' pictures are drawn when they are built):
    its command, run again, must draw the same pixels."""
    import re
    from pathlib import Path

    from xaikit.testing import run_cli

    root = Path(__file__).resolve().parent.parent
    readme = " ".join((root / "README.md").read_text().split())
    command = re.search(r"\(`xaikit (run [^`]+ -o (docs/images/\S+))` drew it\.\)", readme)
    shown = root / command.group(2)
    assert f"]({command.group(2)})" in readme  # the picture the README shows
    args = command.group(1).split()
    args = [str(root / a) if a.startswith("demo/") else a for a in args[:-1]]
    result = run_cli(args + [str(tmp_path / shown.name)])
    assert result.exit_code == 0, result.output
    drawn = np.asarray(opened(tmp_path / shown.name))
    assert drawn.shape == np.asarray(opened(shown)).shape
    np.testing.assert_array_equal(drawn, np.asarray(opened(shown)),
                                  err_msg=f"redraw {command.group(2)} with the README's command")


def test_sinks_need_only_the_map_and_the_input(tmp_path):
    """An explanation built by hand (a dataset runner, a plugin) has no score, name or image."""
    rng = np.random.default_rng(0)
    exp = xaikit.Explanation(attribution=rng.random((3, 6, 10), dtype=np.float32),
                             input=rng.random((3, 6, 10), dtype=np.float32), class_index=2,
                             explainer="test", params={}, model="m")
    assert exp.metadata == {"class_index": 2, "class_name": None, "score": None}
    assert caption(exp) == ("class 2", "", "")
    written = xaikit.write_outputs(exp, tmp_path / "m.png", ["grey", "heatmap", "panel", "npy"],
                                   {"panel": {"tile_size": 64}})
    sizes = [opened(w.path).size for w in written[:3]]
    assert sizes == [(10, 6), (10, 6), (3 * 60 + 4 * 8, opened(written[2].path).height)]
