"""Fuzzing the readers: whatever the bytes, a result or one typed error, never a crash."""

import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import xaikit
from xaikit.run.images import load_image
from xaikit.testing import make_nnp

FUZZ = settings(max_examples=1000, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def nnp_bytes(tmp_path_factory):
    return make_nnp(tmp_path_factory.mktemp("fuzz") / "seed.nnp").read_bytes()


@pytest.fixture(scope="module")
def png_bytes():
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=8)


@FUZZ
@given(edits=EDITS)
def test_nnp_bytes(tmp_path, nnp_bytes, edits):
    path = tmp_path / "fuzz.nnp"
    path.write_bytes(mutate(nnp_bytes, edits))
    try:
        model = xaikit.load_model(path)
    except xaikit.ModelError as exc:
        assert str(exc).startswith(f"model: {path}: ")
    else:
        assert model.num_classes >= 1


@settings(FUZZ, max_examples=300)
@given(edits=EDITS)
def test_nntxt_text(tmp_path, nnp_bytes, edits):
    with zipfile.ZipFile(io.BytesIO(nnp_bytes)) as z:
        files = {i.filename: z.read(i) for i in z.infolist()}
    files["net.nntxt"] = mutate(files["net.nntxt"], edits)
    path = tmp_path / "fuzz.nnp"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    try:
        xaikit.load_model(path)
    except xaikit.ModelError as exc:
        assert str(exc).startswith(f"model: {path}: ")


@pytest.fixture(scope="module")
def grey_model(models):
    return xaikit.load_model(models["grey"])


@settings(FUZZ, max_examples=2000)
@given(edits=EDITS)
def test_image_bytes(tmp_path, grey_model, png_bytes, edits):
    model = grey_model
    path = tmp_path / "fuzz.png"
    path.write_bytes(mutate(png_bytes, edits))
    try:
        pixels = load_image(path, model)
    except xaikit.ImageError as exc:
        assert str(exc).startswith(f"image: {path}: ")
    else:
        assert pixels.shape == (1, 8, 8) and np.isfinite(pixels).all()
