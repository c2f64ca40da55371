"""The control explainers: seeded noise and Sobel edges, which ignore the model."""

import numpy as np
import pytest

import xaikit
from xaikit.testing import check_explainer


@pytest.mark.parametrize("name,params", [("random", {"seed": 0}), ("edge", {})])
def test_the_controls_keep_the_explainer_contract(name, params):
    check_explainer(name, **params)


def test_random_is_seeded_uniform_noise(tiny_model, tiny_image):
    first = xaikit.explain("random", tiny_model, tiny_image, seed=3).attribution
    again = xaikit.explain("random", tiny_model, tiny_image, class_index=2, seed=3).attribution
    other = xaikit.explain("random", tiny_model, tiny_image, seed=4).attribution
    np.testing.assert_array_equal(first, again)  # neither the class nor the image matters
    assert not np.array_equal(first, other)
    fresh = [xaikit.explain("random", tiny_model, tiny_image).attribution for _ in range(2)]
    assert not np.array_equal(*fresh)
    assert first.shape == (1, 8, 8) and 0.0 <= first.min() and first.max() < 1.0


def test_edge_is_the_sobel_magnitude_of_the_image(tiny_model):
    step = np.zeros((1, 8, 8), np.float32)
    step[:, :, 4:] = 1.0  # a vertical edge between columns 3 and 4
    edges = xaikit.explain("edge", tiny_model, step).attribution
    expected = np.zeros((1, 8, 8), np.float32)
    expected[:, :, 3:5] = 4.0  # Sobel: derivative [-1, 0, 1] times smoothing 1 + 2 + 1
    np.testing.assert_array_equal(edges, expected)
    flat = xaikit.explain("edge", tiny_model, np.full((1, 8, 8), 0.3, np.float32)).attribution
    assert not flat.any()
