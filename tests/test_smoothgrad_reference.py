"""SmoothGrad against a plain one-sample-at-a-time implementation of NNC's algorithm."""

from pathlib import Path

import numpy as np
import pytest
from nnc_reference import nnc_variable_names, reference_gradients

import xaikit
from xaikit.engine.stability import pearson, spearman_brown
from xaikit.run.images import load_image


def reference_smoothgrad(path, image, class_index, noise_level, num_samples, seed):
    """NNC's map: the mean of the squared gradients."""
    grads = reference_gradients(path, image, class_index, noise_level, num_samples, seed)
    return np.mean(grads ** 2, axis=0)


@pytest.mark.parametrize("kind,image_kind,class_index", [
    ("grey", "grey", 2), ("rgb", "rgb", 3), ("binary", "grey", 0), ("raw", "grey", 1),
])
@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_batched_map_equals_reference_loop(models, images, kind, image_kind, class_index,
                                           batch_size):
    model = xaikit.load_model(models[kind])
    exp = xaikit.explain("smoothgrad", model=model, image=images[image_kind],
                         class_index=class_index, noise_level=0.2, num_samples=7, seed=5,
                         batch_size=batch_size)
    image = load_image(images[image_kind], model)
    expected = reference_smoothgrad(models[kind], image, class_index, 0.2, 7, 5)
    assert exp.attribution.shape == model.input_shape
    assert exp.attribution.dtype == np.float32
    assert expected.max() > 0
    np.testing.assert_allclose(exp.attribution, expected, rtol=1e-4, atol=1e-9 * expected.max())


def test_same_seed_is_bit_identical_and_other_seed_differs(models, images):
    model = xaikit.load_model(models["grey"])
    run = lambda seed: xaikit.explain("smoothgrad", model=model, image=images["grey"],  # noqa: E731
                                      class_index=1, seed=seed).attribution
    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_noise_level_zero_is_the_squared_plain_gradient(models, images):
    model = xaikit.load_model(models["grey"])
    exp = xaikit.explain("smoothgrad", model=model, image=images["grey"], class_index=0,
                         noise_level=0.0, num_samples=3)
    expected = reference_smoothgrad(models["grey"], load_image(images["grey"], model), 0,
                                    0.0, 1, 0)
    np.testing.assert_allclose(exp.attribution, expected, rtol=1e-5)



DEMO = Path(__file__).resolve().parent.parent / "demo"


@pytest.mark.parametrize("path", [DEMO / "digits.nnp", "grey", "rgb", "binary"])
def test_layer_indices_count_variables_as_nnc_does(models, path):
    path = models.get(path, path)
    names = xaikit.load_model(path).nnc_variables
    assert names == tuple(nnc_variable_names(path))
    assert names[0] == "Input"


def demo_layer_map(layer_index, num_samples):
    """SmoothGrad's map of the demo digit 3 w.r.t. a variable, with the reference's
    gradients of the same noisy copies (noise level 0.2, seed 1)."""
    model = xaikit.load_model(DEMO / "digits.nnp")
    image = DEMO / "images" / "digit_3.png"
    exp = xaikit.explain("smoothgrad", model=model, image=image, class_index=3,
                         noise_level=0.2, num_samples=num_samples, seed=1,
                         layer_index=layer_index)
    grads = reference_gradients(DEMO / "digits.nnp", load_image(image, model), 3, 0.2,
                                num_samples, 1, layer_index=layer_index)
    return model, exp, grads


@pytest.mark.parametrize("layer_index,shape", [(0, (1, 28, 28)), (1, (16, 24, 24)),
                                               (3, (16, 12, 12)), (7, (64,))])
def test_a_layer_index_gives_the_map_of_that_variable(layer_index, shape):
    model, exp, grads = demo_layer_map(layer_index, 5)
    expected = np.mean(grads ** 2, axis=0)
    assert exp.attribution.shape == shape and expected.max() > 0
    np.testing.assert_allclose(exp.attribution, expected, rtol=1e-4, atol=1e-9 * expected.max())
    assert exp.metadata["variable"] == model.nnc_variables[layer_index]


@pytest.mark.parametrize("layer_index", [3, 7])
def test_a_layer_index_maps_stability_is_that_of_its_halves(layer_index):
    """A variable's map (channels x pixels, or a vector of units) reports the split-half
    stability of its own samples, and auto stops on it as on an input map."""
    model, exp, grads = demo_layer_map(layer_index, 8)
    halves = [np.mean(grads[start::2] ** 2, axis=0) for start in (0, 1)]
    pixels = [h if h.ndim == 1 else h.sum(axis=0) for h in halves]
    assert exp.reported["samples"] == 8
    assert exp.reported["stability"] == pytest.approx(
        spearman_brown(pearson(*pixels)), abs=1e-4)
    assert 0.5 < exp.reported["stability"] < 1
    auto = [xaikit.explain("smoothgrad", model=model, image=DEMO / "images" / "digit_3.png",
                           class_index=3, num_samples="auto", seed=0, layer_index=layer_index)
            for _ in range(2)]
    assert np.array_equal(auto[0].attribution, auto[1].attribution)
    assert auto[0].reported["capped"] is False and auto[0].reported["stability"] >= 0.95
    assert auto[0].attribution.shape == exp.attribution.shape


def test_a_layer_index_past_the_last_variable_lists_them(models, images):
    with pytest.raises(xaikit.ParameterError) as error:
        xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"], layer_index=5)
    assert str(error.value) == (
        "layer_index: 5 is past the last variable of grey.nnp (0 Input, "
        "1 @MainRuntime/Convolution_out, 2 @MainRuntime/ReLU_out, 3 @MainRuntime/Affine_out, "
        "4 Softmax)")
