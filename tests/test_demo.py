"""The committed demo model: an NNC-style digit classifier whose maps make sense."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

import xaikit

ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = ROOT / "demo" / "digits.nnp"


@pytest.fixture(scope="module")
def demo():
    return xaikit.load_model(DEMO_MODEL)


def test_demo_model_is_nnc_shaped_and_classifies_its_samples(demo):
    assert demo.input_shape == (1, 28, 28) and demo.num_classes == 10
    assert not demo.no_image_normalization
    from xaikit.run.images import load_image

    batch = np.stack([load_image(ROOT / f"demo/images/digit_{d}.png", demo) for d in range(10)])
    assert list(demo.predict(batch).argmax(axis=1)) == list(range(10))


@pytest.mark.parametrize("digit", range(10))
def test_smoothgrad_mass_lies_on_and_around_the_digit(demo, digit):
    path = ROOT / f"demo/images/digit_{digit}.png"
    exp = xaikit.explain("smoothgrad", model=demo, image=path, class_index=digit, seed=0,
                         num_samples=50)
    ink = Image.fromarray(((exp.input[0] > 0.2) * 255).astype(np.uint8))
    near = np.asarray(ink.filter(ImageFilter.MaxFilter(5))) > 0  # the digit, 2 pixels wider
    share = exp.attribution[0][near].sum() / exp.attribution.sum()
    assert share > near.mean() + 0.05
