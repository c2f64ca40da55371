"""SmoothGrad against a plain one-sample-at-a-time implementation of NNC's algorithm."""

import numpy as np
import pytest
from nnabla.utils.nnp_graph import NnpLoader

import xaikit
from xaikit.images import load_image
from xaikit.nnabla_backend import nn


def reference_smoothgrad(path, image, class_index, noise_level, num_samples, seed):
    """NNC's loop: batch size 1, one noisy copy per forward/backward, squared gradients."""
    with nn.parameter_scope(f"reference_{path.stem}"):
        net = NnpLoader(str(path)).get_network("MainRuntime", batch_size=1)
    x, y = net.inputs["Input"], next(iter(net.outputs.values()))
    x.need_grad = True
    rng = np.random.default_rng(seed)
    sigma = noise_level * (image.max() - image.min())
    total = np.zeros(image.shape)
    for _ in range(num_samples):
        noisy = image + rng.standard_normal(image.shape) * sigma
        x.d = noisy[None].astype(np.float32)
        selected = y[:, class_index]
        selected.forward()
        x.grad.zero()
        selected.backward()
        total += np.asarray(x.g[0], dtype=np.float64) ** 2
    return total / num_samples


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
