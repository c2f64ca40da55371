"""Hostile images: each is read correctly or refused with one line naming the file."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import xaikit
from xaikit.run.images import MAX_IMAGE_PIXELS, load_image


@pytest.fixture(scope="module")
def grey_model(models):
    return xaikit.load_model(models["grey"])


@pytest.fixture(scope="module")
def rgb_model(models):
    return xaikit.load_model(models["rgb"])


def refused(source, model, message):
    with pytest.raises(xaikit.ImageError) as err:
        load_image(source, model)
    text = str(err.value)
    assert text.startswith(f"image: {source}: "), text
    assert message in text and "\n" not in text, text


def png_header_only(path, width, height):
    """A PNG that declares width x height pixels but holds almost no data."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    return path


def test_missing(tmp_path, grey_model):
    refused(tmp_path / "nope.png", grey_model, "no such file")


def test_empty_file(tmp_path, grey_model):
    (tmp_path / "empty.png").write_bytes(b"")
    refused(tmp_path / "empty.png", grey_model, "not an image file")


def test_text_named_png(tmp_path, grey_model):
    (tmp_path / "text.png").write_text("hello")
    refused(tmp_path / "text.png", grey_model, "not an image file")


def test_truncated_png(tmp_path, grey_model):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    refused(tmp_path / "cut.png", grey_model, "cannot decode")


def test_huge_image_is_refused_by_the_pixel_limit(tmp_path, grey_model):
    refused(png_header_only(tmp_path / "huge.png", 20000, 20000), grey_model,
            f"more than the limit of {MAX_IMAGE_PIXELS} pixels")


def test_just_over_the_limit_is_refused_and_under_is_read(tmp_path, grey_model):
    refused(png_header_only(tmp_path / "over.png", 8001, 8000), grey_model,
            f"8001x8000 pixels is more than the limit of {MAX_IMAGE_PIXELS}")


def test_sixteen_bit_png_keeps_its_range(tmp_path, grey_model):
    wide = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    assert Image.open(tmp_path / "wide.png").mode.startswith("I")
    pixels = load_image(tmp_path / "wide.png", grey_model)[0]
    np.testing.assert_allclose(pixels, np.round(wide / 65535 * 255) / 255, atol=1e-6)


def test_palette_png(tmp_path, rgb_model):
    rgb = np.zeros((6, 10, 3), np.uint8)
    rgb[:, :5] = (255, 0, 0)
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    pixels = load_image(tmp_path / "palette.png", rgb_model)
    assert pixels.shape == (3, 6, 10)
    np.testing.assert_allclose(pixels[:, 0, 0], [1, 0, 0])


def test_rgba_for_an_rgb_model(tmp_path, rgb_model):
    rgba = np.full((6, 10, 4), 200, np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    np.testing.assert_allclose(load_image(tmp_path / "alpha.png", rgb_model), 200 / 255,
                               rtol=1e-6)


def test_grey_for_rgb_and_rgb_for_grey(tmp_path, grey_model, rgb_model):
    Image.fromarray(np.full((6, 10), 51, np.uint8)).save(tmp_path / "g.png")
    np.testing.assert_allclose(load_image(tmp_path / "g.png", rgb_model), 0.2, rtol=1e-6)
    Image.fromarray(np.full((8, 8, 3), (255, 0, 0), np.uint8)).save(tmp_path / "c.png")
    expected = round(0.299 * 255) / 255  # ITU-R 601-2 luma, as PIL converts
    np.testing.assert_allclose(load_image(tmp_path / "c.png", grey_model), expected, atol=1e-6)


def test_one_pixel_image_is_resized(tmp_path, grey_model):
    Image.fromarray(np.full((1, 1), 128, np.uint8)).save(tmp_path / "dot.png")
    np.testing.assert_allclose(load_image(tmp_path / "dot.png", grey_model), 128 / 255)


def test_a_run_on_a_bad_image_writes_nothing(tmp_path, models):
    from xaikit.testing import run_cli

    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "out.png"
    result = run_cli(["run", "smoothgrad", "-m", models["grey"], "-i", tmp_path / "bad.png",
                      "-o", out])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --image: {tmp_path / 'bad.png'}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]
