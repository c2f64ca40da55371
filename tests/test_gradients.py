import numpy as np
import pytest
from nnabla.utils.nnp_graph import NnpLoader

import xaikit
from xaikit.gradients import input_gradients, input_gradients_in_batches, variable_gradients
from xaikit.nnabla_backend import nn
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


def test_input_gradients_in_batches_equal_one_pass(models):
    model = xaikit.load_model(models["rgb"])
    batch = np.random.default_rng(2).random((7,) + model.input_shape, dtype=np.float32)
    classes = [0, 3, 1, 3, 2, 2, 0]
    chunks = list(input_gradients_in_batches(model, iter(batch), classes, batch_size=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    np.testing.assert_allclose(np.concatenate(chunks), input_gradients(model, batch, classes),
                               rtol=1e-5, atol=1e-8)
    one_class = np.concatenate(list(input_gradients_in_batches(model, batch, 1, batch_size=4)))
    np.testing.assert_allclose(one_class, input_gradients(model, batch, 1), rtol=1e-5, atol=1e-8)


def test_variable_gradients_at_the_input_are_input_gradients(models):
    model = xaikit.load_model(models["grey"])
    batch = np.random.default_rng(3).random((3,) + model.input_shape, dtype=np.float32)
    values, grads = variable_gradients(model, batch, [2, 0, 1], "Input")
    assert np.array_equal(values, batch)
    np.testing.assert_allclose(grads, input_gradients(model, batch, [2, 0, 1]), rtol=1e-6)


def test_variable_gradients_at_the_output_are_the_class_selector(models):
    model = xaikit.load_model(models["grey"])
    batch = np.random.default_rng(4).random((2,) + model.input_shape, dtype=np.float32)
    values, grads = variable_gradients(model, batch, [2, 0], "Softmax")
    np.testing.assert_allclose(values, model.predict(batch), rtol=1e-6)
    assert np.array_equal(grads, np.eye(3, dtype=np.float32)[[2, 0]])


def test_variable_gradients_inside_match_nnabla_directly(models):
    """Against NNC's way: forward and backward of output[:, c], read the variable."""
    model = xaikit.load_model(models["grey"])
    image = np.random.default_rng(5).random(model.input_shape, dtype=np.float32)
    name = "@MainRuntime/Convolution_out"
    with nn.parameter_scope("reference_variable_gradients"):
        net = NnpLoader(str(models["grey"])).get_network("MainRuntime", batch_size=1)
    conv = net.variables[name]
    conv.persistent = True
    net.inputs["Input"].d = image[None]
    selected = next(iter(net.outputs.values()))[:, 1]
    selected.forward()
    selected.backward()
    values, grads = variable_gradients(model, image[None], 1, name)
    np.testing.assert_allclose(values, conv.d, rtol=1e-5)
    np.testing.assert_allclose(grads, conv.g, rtol=1e-5, atol=1e-9)
    assert grads.shape == (1, 4, 8, 8) and np.abs(grads).max() > 0
    again, _ = variable_gradients(model, image[None], 1, name)  # no state left behind
    assert np.array_equal(values, again)
    assert not model.graph(1).variables[name].persistent


def test_variable_gradients_of_an_unknown_variable(models):
    model = xaikit.load_model(models["grey"])
    with pytest.raises(xaikit.ParameterError, match="variable: grey.nnp has no variable named "
                       "'conv9'"):
        variable_gradients(model, np.zeros((1, 1, 8, 8), np.float32), 0, "conv9")
