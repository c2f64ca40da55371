import numpy as np

import xaikit
from xaikit.gradients import input_gradients
from xaikit.plugins import registry


def test_one_class_per_image_matches_separate_passes(models):
    model = xaikit.load_model(models["rgb"])
    batch = np.random.default_rng(0).random((4,) + model.input_shape, dtype=np.float32)
    together = input_gradients(model, batch, [0, 3, 1, 3])
    for i, c in enumerate([0, 3, 1, 3]):
        np.testing.assert_allclose(together[i], input_gradients(model, batch[i:i + 1], c)[0],
                                   rtol=1e-5, atol=1e-8)
    assert not np.allclose(together[0], input_gradients(model, batch[:1], 1)[0])


def test_default_explain_batch_is_explain_per_image(models, images):
    model = xaikit.load_model(models["grey"])
    smoothgrad = registry().get("explainer", "smoothgrad")
    params = smoothgrad.Params(seed=2, num_samples=3)
    batch = np.random.default_rng(1).random((3,) + model.input_shape, dtype=np.float32)
    together = xaikit.Explainer.explain_batch(smoothgrad, model, batch, [2, 0, 1], params)
    assert together.shape == (3,) + model.input_shape
    for i, c in enumerate([2, 0, 1]):
        assert np.array_equal(together[i], smoothgrad.explain(model, batch[i], c, params))
