"""The grey sink: NNC's bytes for the same float map, in every format Pillow writes."""

import warnings

import numpy as np
import pytest
from nnc_reference import reference_grey_image
from PIL import Image

import xaikit
from xaikit.builtins.sinks.grey import GreySink, grey_map

LOSSLESS = (".png", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".pnm", ".ppm", ".tga", ".sgi",
            ".pcx", ".im", ".dib")


def maps():
    """Float32 maps as explainers make them: dense, heavy-tailed, one and three channels."""
    rng = np.random.default_rng(0)
    for shape in [(1, 28, 28), (3, 32, 32), (3, 7, 13), (1, 224, 224)]:
        yield rng.normal(size=shape).astype(np.float32)
        yield (rng.normal(size=shape) ** 2).astype(np.float32)  # smoothgrad_sq's squares
        yield rng.lognormal(sigma=2, size=shape).astype(np.float32) * 1e-6


@pytest.mark.parametrize("attribution", list(maps()), ids=lambda a: "x".join(map(str, a.shape)))
def test_grey_map_is_nncs_bytes(attribution):
    expected = reference_grey_image(attribution)
    np.testing.assert_array_equal(grey_map(attribution), expected)


def test_grey_map_of_a_smoothgrad_map_is_nncs_bytes(models, images):
    exp = xaikit.explain("smoothgrad", model=models["rgb"], image=images["rgb"],
                         class_index=2, num_samples=8, seed=0)
    assert exp.attribution.dtype == np.float32
    np.testing.assert_array_equal(grey_map(exp.attribution),
                                  reference_grey_image(exp.attribution))


@pytest.mark.parametrize("attribution", [
    np.zeros((1, 5, 5)),
    np.full((3, 5, 5), 7.0, dtype=np.float32),
    np.pad(np.float32([[[2.0, 3.0]]]), ((0, 0), (0, 19), (0, 18))),  # percentiles 1, 99: 0
], ids=["zero", "constant", "sparse"])
def test_where_nnc_divides_by_zero_its_bytes_are_the_limit(attribution):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # grey_map itself divides by nothing
        out = grey_map(attribution)
    np.testing.assert_array_equal(out, reference_grey_image(attribution))
    magnitude = np.abs(attribution).sum(axis=0)
    np.testing.assert_array_equal(out, np.where(magnitude > np.percentile(magnitude, 99), 255, 0))


def test_sign_and_channel_order_do_not_matter():
    attribution = np.random.default_rng(1).normal(size=(3, 9, 9)).astype(np.float32)
    assert np.array_equal(grey_map(-attribution), grey_map(attribution[::-1]))


@pytest.mark.parametrize("extension", GreySink.extensions)
def test_grey_sink_writes_the_format_the_extension_names(extension, tmp_path):
    attribution = next(maps())
    exp = xaikit.Explanation(attribution=attribution, input=attribution, class_index=0,
                             explainer="test", params={}, model="m")
    path = exp.save(tmp_path / f"g{extension}", sink="grey")
    assert path == tmp_path / f"g{extension}" and path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    if extension in LOSSLESS:
        with Image.open(path) as written:
            assert written.size == (28, 28)
            pixels = np.asarray(written.convert("L"))
        np.testing.assert_array_equal(pixels, grey_map(attribution))


def test_common_formats_are_among_the_grey_sinks():
    assert GreySink.extensions[0] == ".png"
    assert {".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"} <= set(GreySink.extensions)


def test_the_extension_picks_grey_among_the_image_sinks(tmp_path):
    attribution = next(maps())
    exp = xaikit.Explanation(attribution=attribution, input=attribution, class_index=0,
                             explainer="test", params={}, model="m")
    for name in ("g.jpg", "g.bmp", "g.tif"):
        with Image.open(exp.save(tmp_path / name)) as written:
            assert written.mode == "L" and written.size == (28, 28)


def test_maps_of_other_shapes_are_rows_of_pixels_or_refused():
    """An intermediate variable's map (-li): (channels, length) and (units,) are one row."""
    units = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(grey_map(units), reference_grey_image(units[None])[None])
    assert grey_map(units).shape == (1, 10)
    lengths = np.random.default_rng(2).normal(size=(4, 30)).astype(np.float32)
    np.testing.assert_array_equal(grey_map(lengths), reference_grey_image(lengths)[None])
    with pytest.raises(xaikit.XaikitError, match=r"a map of shape \(2, 3, 4, 5\) has no grey"):
        grey_map(np.ones((2, 3, 4, 5), np.float32))


def test_constant_map_is_black_not_garbage():
    with np.errstate(all="raise"):  # black by choice, not by casting 0 / 0 to a byte
        for constant in (np.zeros((1, 5, 5)), np.full((3, 5, 5), 7.0)):
            out = grey_map(constant)
            assert out.dtype == np.uint8 and out.shape == (5, 5) and not out.any()


def test_sparse_map_is_white_above_its_coinciding_percentiles():
    attribution = np.zeros((1, 20, 20))
    attribution[0, 3, 4] = 2.0  # percentiles 1 and 99 are both 0
    assert np.percentile(np.abs(attribution), 99) == 0
    out = grey_map(attribution)
    assert out[3, 4] == 255 and out.sum() == 255
