import threading
import time

import numpy as np
import pytest
from nnabla.utils.nnp_graph import NnpLoader

import xaikit
from xaikit.engine import gradients
from xaikit.engine.backend import nn
from xaikit.engine.gradients import input_gradients, input_gradients_in_batches, variable_gradients
from xaikit.engine.threads import ordered_map
from xaikit.plugin.manager import registry


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
    assert len(together) == 3  # smoothgrad reports metadata: a list of Attributions
    for i, c in enumerate([2, 0, 1]):
        alone = smoothgrad.explain(model, batch[i], c, params)
        assert together[i].values.shape == model.input_shape
        assert np.array_equal(together[i].values, alone.values)
        assert together[i].metadata == alone.metadata


def test_logit_score_differentiates_the_input_of_the_final_softmax(models):
    model = xaikit.load_model(models["grey"])
    batch = np.random.default_rng(2).random((3,) + model.input_shape, dtype=np.float32)
    graph = model.graph(3)
    x, logits = graph.input, graph.variables[model.logit]
    assert graph.output.parent.info.type_name == "Softmax"
    assert logits is not None and model.logit != "Softmax"
    x.need_grad = True
    x.d = batch
    logits.forward()
    x.grad.zero()
    seed = np.zeros(logits.shape, np.float32)
    seed[:, 2] = 1
    logits.backward(seed)
    expected = x.g.copy()
    np.testing.assert_allclose(input_gradients(model, batch, 2, score="logit"), expected,
                               rtol=1e-5)
    assert not np.allclose(input_gradients(model, batch, 2), expected, rtol=0.1)


def test_graphs_compute_no_parameter_gradients(models):
    model = xaikit.load_model(models["rgb"])
    graph = model.graph(2)
    leaves = []
    graph.output.visit(lambda f: leaves.extend(v for v in f.inputs if v.parent is None))
    assert len(leaves) == 5 and not any(v.need_grad for v in leaves)  # input, W and b twice
    input_gradients(model, np.ones((2,) + model.input_shape, np.float32), 1, batch_size=2)
    assert graph.input.need_grad


def test_replicas_are_separate_graphs_sharing_parameter_values(models):
    model = xaikit.load_model(models["rgb"])
    built = []
    threads = [threading.Thread(target=lambda r=r: built.append(model.graph(3, replica=r % 2)))
               for r in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(g) for g in built}) == 2  # one graph per replica, however many callers
    a, b = model.graph(3), model.graph(3, replica=1)
    assert a is not b and a.input is not b.input
    batch = np.random.default_rng(0).random((3,) + model.input_shape, dtype=np.float32)
    for g in (a, b):
        g.input.d = batch
        g.output.forward()
    assert np.array_equal(a.output.d, b.output.d)


def test_ordered_map_keeps_job_order_and_names_workers():
    """A worker number is one thread's: no two jobs run under it at once. How many of
    the threads get jobs is the pool's choice (one that finished may take the next job
    before another thread starts), so the test does not count them."""
    lock = threading.Lock()
    busy, overlaps = set(), []

    def work(worker, job):
        with lock:
            if worker in busy:
                overlaps.append((worker, job))
            busy.add(worker)
        time.sleep(0.02 if job % 3 == 0 else 0.0)  # early jobs finish last
        with lock:
            busy.discard(worker)
        return job, worker

    results = list(ordered_map(work, range(10), threads=3))
    assert [job for job, _ in results] == list(range(10))
    assert {worker for _, worker in results} <= {0, 1, 2} and not overlaps
    assert list(ordered_map(work, range(4), threads=1)) == [(j, 0) for j in range(4)]

    def fail(worker, job):
        if job == 2:
            raise ValueError("job 2")
        return job

    with pytest.raises(ValueError, match="job 2"):
        list(ordered_map(fail, range(6), threads=2))
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


def test_input_gradients_in_passes_on_replicas_in_threads(models, monkeypatch):
    model = xaikit.load_model(models["rgb"])
    batch = np.random.default_rng(6).random((11,) + model.input_shape, dtype=np.float32)
    classes = [i % 4 for i in range(11)]
    one_pass = input_gradients(model, batch, classes, batch_size=11, threads=1)
    passes = []
    real_pass = gradients.gradient_pass

    def recorded(model, inputs, *args, **kwargs):
        passes.append((len(inputs), kwargs["replica"]))
        return real_pass(model, inputs, *args, **kwargs)

    monkeypatch.setattr(gradients, "gradient_pass", recorded)
    by_threads = {}
    for threads in (1, 2, 3):
        passes.clear()
        by_threads[threads] = input_gradients(model, batch, classes, batch_size=3,
                                              threads=threads)
        assert sorted(n for n, _ in passes) == [2, 3, 3, 3]
        assert {replica for _, replica in passes} <= set(range(threads))
    assert np.array_equal(by_threads[1], by_threads[2])
    assert np.array_equal(by_threads[1], by_threads[3])
    np.testing.assert_allclose(by_threads[1], one_pass, rtol=1e-5, atol=1e-8)
    # By default, the passes of the default threads (two here) share the memory budget.
    monkeypatch.setattr(gradients, "default_threads", lambda device: 2)
    monkeypatch.setattr(gradients, "MEMORY_BUDGET", 2 * 2 * gradients.bytes_per_sample(model))
    passes.clear()
    np.testing.assert_allclose(input_gradients(model, batch, classes), one_pass, rtol=1e-5,
                               atol=1e-8)
    assert sorted(n for n, _ in passes) == [1, 2, 2, 2, 2, 2]
