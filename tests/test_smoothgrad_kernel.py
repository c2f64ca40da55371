"""The noisy-gradient kernel: variants, scores, seeds, threads, batches of images, devices."""

import functools
import sys
import threading

import nnc_reference
import numpy as np
import pytest
from nnc_reference import reference_gradients
from PIL import Image

import xaikit
from xaikit.engine import gradients, noise
from xaikit.engine import passes as kernel
from xaikit.engine.backend import CPU, F, nn
from xaikit.engine.noise import host_copies, noise_sigma
from xaikit.plugin.manager import registry
from xaikit.run.images import load_image
from xaikit.testing import make_nnp, run_cli, tiny_cnn

WEIGHTS = np.random.default_rng(7).normal(size=(2, 1, 4, 4)).astype(np.float32)


def quadratic(x):
    """score_c = sum(w_c * x**2) / 2, so d score_c / dx = w_c * x: gradients known exactly."""
    squares = F.reshape(F.mul2(x, x), (x.shape[0], 1, -1))
    w = nn.Variable.from_numpy_array(WEIGHTS.reshape(1, 2, -1))
    return F.sum(F.mul2(squares, w), axis=2) * 0.5


@pytest.fixture(scope="module")
def quad():
    return xaikit.load_model(quadratic, input_shape=(1, 4, 4), name="quadratic")


def smoothgrad(model, image, class_index=0, **params):
    """SmoothGrad's map of one image."""
    algorithm = registry().get("explainer", "smoothgrad")
    return algorithm.explain(model, image, class_index, algorithm.Params(**params)).values


def smoothgrad_batch(model, images, class_indices, **params):
    """SmoothGrad's maps of several images, stacked."""
    algorithm = registry().get("explainer", "smoothgrad")
    results = algorithm.explain_batch(model, images, class_indices, algorithm.Params(**params))
    return np.stack([result.values for result in results])


@pytest.mark.parametrize("class_index", [0, 1])
def test_variants_match_their_definitions_on_known_gradients(quad, class_index):
    image = np.random.default_rng(0).random((1, 4, 4), dtype=np.float32)
    copies = host_copies(image, 0.3, 11, 9).astype(np.float64)
    grads = WEIGHTS[class_index] * copies  # the exact gradient at each noisy copy
    expected = {
        "smoothgrad": grads.mean(axis=0),
        "smoothgrad_sq": (grads ** 2).mean(axis=0),
        "vargrad": grads.var(axis=0),
    }
    for variant, want in expected.items():
        got = smoothgrad(quad, image, class_index, variant=variant, noise_level=0.3,
                         num_samples=9, seed=11, batch_size=4)
        assert got.dtype == np.float32 and got.shape == (1, 4, 4)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7, err_msg=variant)
    assert expected["vargrad"].min() > 0  # the noise makes the gradients vary


@pytest.mark.parametrize("variant", ["smoothgrad", "vargrad"])
@pytest.mark.parametrize("score", ["output", "logit"])
def test_variants_and_scores_match_the_reference_loop(models, images, variant, score):
    model = xaikit.load_model(models["rgb"])
    image = load_image(images["rgb"], model)
    grads = reference_gradients(models["rgb"], image, 2, 0.2, 6, 3, score=score)
    want = grads.mean(axis=0) if variant == "smoothgrad" else grads.var(axis=0)
    got = smoothgrad(model, image, 2, variant=variant, score=score, noise_level=0.2,
                     num_samples=6, seed=3, batch_size=4)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("output,differs", [
    ("Softmax", True), ("Sigmoid", True), ("Affine", False),
])
def test_logit_score_differs_from_output_behind_a_softmax_or_sigmoid(tmp_path, images, output,
                                                                      differs):
    path = make_nnp(tmp_path / "m.nnp", num_classes=1 if output == "Sigmoid" else 3,
                    output=output, seed=4)
    model = xaikit.load_model(path)
    run = lambda score: xaikit.explain("smoothgrad", model=model, image=images["grey"],  # noqa: E731
                                       score=score, seed=1, num_samples=5).attribution
    output_map, logit_map = run("output"), run("logit")
    assert (model.logit is not None) == differs
    assert output_map.max() > 0 and logit_map.max() > 0
    if differs:
        assert not np.allclose(output_map, logit_map, rtol=0.1)
    else:  # the output of a model without a final Softmax or Sigmoid is its logits
        assert np.array_equal(output_map, logit_map)


def test_smoothed_gradients_split_the_copies_between_the_threads_or_with_auto_a_check(
        models, images, monkeypatch):
    """xaikit.smoothed_gradients as a plugin calls it: the output's gradients; passes of all
    copies split between the default threads (two here), with auto of the first check's
    copies split between them (rounds to the checks 16, 32 and the cap 40)."""
    model = xaikit.load_model(models["grey"])
    image = load_image(images["grey"], model)[None]
    sizes = []
    real_pass = kernel.gradient_pass

    def recorded(model, inputs, *args, **kwargs):
        sizes.append(len(inputs))
        return real_pass(model, inputs, *args, **kwargs)

    monkeypatch.setattr(kernel, "gradient_pass", recorded)
    monkeypatch.setattr(kernel, "default_threads", lambda device: 2)
    smoothing = xaikit.Smoothing(40, seed=3)
    result = xaikit.smoothed_gradients(model, image, [1], smoothing)
    assert sizes == [20, 20] and result.maps.dtype == np.float32
    output = xaikit.smoothed_gradients(model, image, [1], smoothing, score="output",
                                       batch_size=20, threads=1)
    assert np.array_equal(result.maps, output.maps)
    sizes.clear()
    auto = xaikit.Smoothing("auto", seed=3, stability=0.9999, max_samples=40)
    assert xaikit.smoothed_gradients(model, image, [1], auto).samples == [40]
    assert sizes == [8] * 5


@pytest.mark.parametrize("variant", ["smoothgrad_sq", "vargrad"])
@pytest.mark.parametrize("score", ["output", "logit"])
def test_smoothgrad_reports_its_variant_and_the_score_it_differentiated(models, images, variant,
                                                                         score):
    model = xaikit.load_model(models["grey"])
    exp = xaikit.explain("smoothgrad", model=model, image=images["grey"], class_index=2,
                         variant=variant, score=score, seed=0, num_samples=2)
    graph = model.graph(1)
    graph.input.d = exp.input[None]
    differentiated = graph.variables[model.logit] if score == "logit" else graph.output
    differentiated.forward()
    value = float(differentiated.d[0, 2])
    assert exp.metadata["method"] == variant and exp.metadata["differentiated"] == score
    assert exp.metadata["differentiated_score"] == pytest.approx(value, rel=1e-6)
    assert exp.metadata["variable"] == "Input"
    if score == "output":
        assert exp.metadata["differentiated_score"] == pytest.approx(exp.score, rel=1e-6)
    else:
        assert abs(value - exp.score) > 0.01  # a logit, not the probability


def test_thread_count_does_not_change_a_seeded_map(models, images):
    model = xaikit.load_model(models["rgb"])
    image = load_image(images["rgb"], model)
    maps = [smoothgrad(model, image, 1, seed=4, num_samples=23, batch_size=3, threads=t)
            for t in (1, 2, 3, 5)]
    for other in maps[1:]:
        assert np.array_equal(maps[0], other)
    defaults = [smoothgrad(model, image, 1, seed=4, num_samples=23, threads=t) for t in (1, 3)]
    assert np.array_equal(defaults[0], defaults[1])
    pairs = np.stack([image, image[:, ::-1]])
    batched = [smoothgrad_batch(model, pairs, [1, 3], seed=4, num_samples=23, batch_size=5,
                                threads=t) for t in (1, 3)]
    assert np.array_equal(batched[0], batched[1])


def test_batch_sizes_agree_far_within_sampling_noise(models, images):
    model = xaikit.load_model(models["grey"])
    image = load_image(images["grey"], model)
    run = lambda **p: smoothgrad(model, image, 1, num_samples=40, **p)  # noqa: E731
    by_one, by_seven, default = run(seed=2, batch_size=1), run(seed=2, batch_size=7), run(seed=2)
    # The noise of a sample depends on the seed and its index only: batch sizes change
    # nothing but float rounding, while other noise changes the map a lot.
    np.testing.assert_allclose(by_seven, by_one, rtol=1e-5)
    np.testing.assert_allclose(default, by_one, rtol=1e-5)
    assert np.abs(run(seed=3) - by_one).max() > 100 * np.abs(by_seven - by_one).max()


def test_noise_has_the_requested_spread_and_depends_on_seed_and_index_only(monkeypatch):
    image = np.random.default_rng(1).random((3, 8, 8), dtype=np.float32)
    copies = host_copies(image, 0.2, 5, 300)
    assert copies.shape == (300, 3, 8, 8)
    spread = (copies - image).std()
    assert abs(spread / noise_sigma(image, 0.2) - 1) < 0.03
    assert abs((copies - image).mean()) < 0.01
    monkeypatch.setitem(noise.NOISE_BLOCK_BYTES, True, 7 * image.nbytes)  # blocks of 7 copies
    small_blocks = host_copies(image, 0.2, 5, 300)
    assert noise.block_samples(image.shape) == 7
    assert not np.array_equal(small_blocks, copies)  # the blocks are seeded by index
    assert np.array_equal(host_copies(image, 0.2, 5, 20), small_blocks[:20])


def test_passes_straddling_noise_blocks_match_the_reference(models, images, monkeypatch):
    model = xaikit.load_model(models["grey"])
    image = load_image(images["grey"], model)
    monkeypatch.setitem(noise.NOISE_BLOCK_BYTES, True, 3 * image.nbytes)
    grads = reference_gradients(models["grey"], image, 2, 0.3, 10, 8)
    for batch_size in (1, 4, 10):
        got = smoothgrad(model, image, 2, noise_level=0.3, num_samples=10, seed=8,
                         batch_size=batch_size)
        np.testing.assert_allclose(got, (grads ** 2).mean(axis=0), rtol=1e-4)


def test_an_image_alone_and_within_a_batch_gets_the_same_map(models, images):
    model = xaikit.load_model(models["rgb"])
    rng = np.random.default_rng(3)
    batch = np.stack([load_image(images["rgb"], model)]
                     + [rng.random(model.input_shape, dtype=np.float32) for _ in range(3)])
    classes = [3, 0, 1, 3]
    params = dict(seed=6, num_samples=8, noise_level=0.25)
    # Passes aligned on images: each image's rows are evaluated exactly as when alone.
    aligned = smoothgrad_batch(model, batch, classes, batch_size=4, **params)
    # Passes shared by images (batch size 12: one and a half images per pass).
    shared = smoothgrad_batch(model, batch, classes, batch_size=12, **params)
    for image, c, a, s in zip(batch, classes, aligned, shared):
        alone = smoothgrad(model, image, c, batch_size=4, **params)
        assert np.array_equal(a, alone)
        np.testing.assert_allclose(s, alone, rtol=1e-5)
    assert not np.allclose(aligned[0], aligned[3])
    assert not np.allclose(aligned[0], smoothgrad(model, batch[0], 2, batch_size=4, **params))


def test_default_batch_size_keeps_every_thread_within_the_budget(models, monkeypatch):
    model = xaikit.load_model(models["rgb"])
    per_sample = gradients.bytes_per_sample(model)
    monkeypatch.setattr(gradients, "MEMORY_BUDGET", 2 * 5 * per_sample + 1)
    assert gradients.default_batch_size(model, 1000, threads=2) == 5
    assert gradients.default_batch_size(model, 1000, threads=20) == 1
    assert gradients.default_batch_size(model, 7, threads=2) == 4  # two passes, one per thread
    monkeypatch.setattr(gradients, "MEMORY_BUDGET", 2**40)
    assert gradients.default_batch_size(model, 10**6, threads=2) == gradients.MAX_AUTO_BATCH


def test_passes_cover_every_sample_once_in_order():
    passes = kernel.plan_passes([kernel.Segment(item, 0, 5) for item in range(3)], 4)
    assert [sum(s.stop - s.start for s in p) for p in passes] == [4, 4, 4, 3]
    flat = [(s.item, i) for p in passes for s in p for i in range(s.start, s.stop)]
    assert flat == [(item, i) for item in range(3) for i in range(5)]


def test_missing_cuda_extension_gives_one_line(models, images, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "nnabla_ext.cuda", None)  # import fails as if absent
    with pytest.raises(xaikit.ParameterError) as error:
        xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"], device="cuda")
    message = ("device: cuda needs nnabla's CUDA extension nnabla-ext-cuda120: "
               "pip install 'xaikit[cuda]'")
    assert str(error.value) == message

    out = tmp_path / "map.png"
    result = run_cli(["run", "smoothgrad", "-m", models["grey"], "-i", images["grey"], "-o",
                      out, "--device", "cuda", "--device-id", "1"])
    assert result.exit_code == 1
    assert result.stderr == f"error: --{message}\n"  # the CLI names the option
    assert not out.exists()


def test_device_noise_has_the_same_properties(monkeypatch):
    """nnabla's randn, which draws the noise on a GPU, run here on the CPU."""
    image = np.random.default_rng(2).random((1, 8, 8), dtype=np.float32)
    copies = host_copies(image, 0.1, 9, 400, on_host=False)
    assert abs((copies - image).std() / noise_sigma(image, 0.1) - 1) < 0.03
    assert abs((copies - image).mean()) < 5 * noise_sigma(image, 0.1) / np.sqrt(copies.size)
    assert np.array_equal(copies, host_copies(image, 0.1, 9, 400, on_host=False))
    assert not np.array_equal(copies, host_copies(image, 0.1, 10, 400, on_host=False))
    monkeypatch.setitem(noise.NOISE_BLOCK_BYTES, False, 5 * image.nbytes)
    copies = noise.NoisyCopies(image, 0.1, 9, 12, on_host=False)
    with nn.context_scope(CPU.context()):
        pieces = [np.array(copies.rows(start, stop).data) for start, stop in [(0, 3), (3, 12)]]
    np.testing.assert_array_equal(np.concatenate(pieces),
                                  host_copies(image, 0.1, 9, 12, on_host=False))
    flat = host_copies(image, 0.0, 9, 3, on_host=False)
    assert np.array_equal(flat, np.broadcast_to(image, (3, 1, 8, 8)))


def test_kernel_on_the_device_path_matches_the_reference(models, images, monkeypatch):
    """The GPU's path (noise drawn, copies assembled and gradients added up by nnabla on the
    device) run on the CPU, with a pass shared by two images."""
    model = xaikit.load_model(models["rgb"])
    image = load_image(images["rgb"], model)
    monkeypatch.setattr(kernel, "on_host", lambda device: False)
    monkeypatch.setitem(noise.NOISE_BLOCK_BYTES, False, 3 * image.nbytes)
    pair = np.stack([image, image[:, ::-1]])
    got = {variant: smoothgrad_batch(model, pair, [2, 1], variant=variant, noise_level=0.2,
                                     num_samples=10, seed=1, batch_size=4, threads=2)
           for variant in ("smoothgrad_sq", "smoothgrad", "vargrad")}
    monkeypatch.setattr(nnc_reference, "host_copies",
                        functools.partial(host_copies, on_host=False))
    for i, c in enumerate([2, 1]):
        grads = nnc_reference.reference_gradients(models["rgb"], pair[i], c, 0.2, 10, 1)
        for variant, want in [("smoothgrad_sq", (grads ** 2).mean(axis=0)),
                              ("smoothgrad", grads.mean(axis=0)), ("vargrad", grads.var(axis=0))]:
            np.testing.assert_allclose(got[variant][i], want, rtol=1e-3,
                                       atol=1e-6 * np.abs(want).max(), err_msg=variant)
    assert not np.array_equal(host_copies(image, 0.2, 1, 10, on_host=False),
                              host_copies(image, 0.2, 1, 10))


def test_python_network_behind_a_softmax_has_a_logit(images):
    model = xaikit.load_model(lambda x: F.softmax(tiny_cnn(x, 3)), input_shape=(1, 8, 8))
    assert model.logit == "logit"
    run = lambda score: xaikit.explain("smoothgrad", model=model, image=images["grey"],  # noqa: E731
                                       class_index=1, score=score, seed=0).attribution
    assert not np.allclose(run("logit"), run("output"), rtol=0.1)
    assert xaikit.load_model(lambda x: tiny_cnn(x, 3), input_shape=(1, 8, 8)).logit is None


@pytest.mark.parametrize("kwargs,message", [
    ({"variant": "mean"}, "variant: Input should be 'smoothgrad_sq', 'smoothgrad' or 'vargrad'"),
    ({"score": "probability"}, "score: Input should be 'output' or 'logit'"),
    ({"threads": 0}, "threads: Input should be greater than or equal to 1"),
    ({"device": "tpu"}, "device: Input should be 'cpu', 'cuda' or 'cudnn'"),
    ({"device_id": -1}, "device_id: Input should be greater than or equal to 0"),
])
def test_kernel_parameters_are_checked(models, images, kwargs, message):
    with pytest.raises(xaikit.ParameterError, match=message):
        xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"], **kwargs)


def test_threads_explaining_with_one_model_take_turns(models, images):
    model = xaikit.load_model(models["rgb"])
    image = load_image(images["rgb"], model)
    alone = smoothgrad(model, image, 1, seed=2, num_samples=30, batch_size=4)
    maps = []
    callers = [threading.Thread(target=lambda: maps.append(
        smoothgrad(model, image, 1, seed=2, num_samples=30, batch_size=4))) for _ in range(4)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert len(maps) == 4 and all(np.array_equal(m, alone) for m in maps)


def half_sum_of_squares(x):
    """score = sum(x**2) / 2, so d score / dx = x: the gradients are the noisy copies."""
    return F.reshape(F.sum(F.mul2(x, x), axis=(1, 2, 3)) * 0.5, (x.shape[0], 1))


@pytest.mark.parametrize("raw,low,high,sigma", [
    (False, 51, 102, 0.1 * (102 - 51) / 255),  # a dim image, preprocessed to 0.2-0.4: 0.02
    (True, 0, 255, 0.1 * 255),  # no_image_normalization: pixels stay 0-255: 25.5
])
def test_noise_spread_is_the_level_times_the_preprocessed_images_range(raw, low, high, sigma):
    model = xaikit.load_model(half_sum_of_squares, input_shape=(1, 4, 4),
                              no_image_normalization=raw)
    pixels = np.linspace(low, high, 16).round().astype(np.uint8).reshape(4, 4)
    image = Image.fromarray(pixels, "L")
    run = lambda variant: xaikit.explain(  # noqa: E731
        "smoothgrad", model=model, image=image, variant=variant, noise_level=0.1,
        num_samples=2000, seed=0).attribution
    # The gradient at copy j is the copy itself: its variance over the copies is the
    # noise's, and its mean is the preprocessed image.
    np.testing.assert_allclose(run("smoothgrad")[0], pixels * (1.0 if raw else 1 / 255),
                               atol=5 * sigma / np.sqrt(2000))
    spread = np.sqrt(run("vargrad").mean())
    assert abs(spread / sigma - 1) < 0.02


def test_partial_sums_are_added_in_pass_order_whatever_finishes_first(quad, monkeypatch):
    """Passes whose sums, added in float64, depend on their order: 1e20 + 1 - 1e20 is 0 in
    pass order, 1 if the last pass comes before the second. Three threads finish the
    passes in the order 2, 0, 1: each of the first two waits for the one before it
    (briefly, when one thread runs them in order)."""
    image = np.ones((1, 4, 4), dtype=np.float32)
    partial = {0: 1e20, 1: 1.0, 2: -1e20}  # by sample index, one sample per pass
    done = {start: threading.Event() for start in partial}
    after = {0: done[2], 1: done[0]}
    host_sums = kernel._host_sums

    def sums_finishing_late(grads, segments, wanted):
        (segment,) = segments
        if segment.start in after:
            after[segment.start].wait(timeout=0.5)
        sums = host_sums(grads, segments, wanted)
        sums["sums"][0] = partial[segment.start]
        done[segment.start].set()
        return sums

    monkeypatch.setattr(kernel, "_host_sums", sums_finishing_late)
    maps = []
    for threads in (1, 3):
        for event in done.values():
            event.clear()
        maps.append(smoothgrad(quad, image, variant="smoothgrad", num_samples=3, batch_size=1,
                               seed=0, threads=threads))
    assert not maps[0].any()  # ((1e20 + 1) - 1e20) / 3
    assert np.array_equal(maps[0], maps[1])


def test_a_pass_adds_up_its_rows_in_float64():
    """In float32, 1e8 + 1 - 1e8 is 0, and 2**24 + 1 is 2**24."""
    def pass_sums(*values):
        """The sums and the sums of squares: of all rows, and of those of even index."""
        rows = np.array(values, dtype=np.float32).reshape(len(values), 1, 1, 1)
        sums = kernel._host_sums(rows, [kernel.Segment(0, 0, len(values))], ("sums", "squares"))
        return list(sums["sums"][:, 0, 0, 0, 0]), list(sums["squares"][:, 0, 0, 0, 0])

    assert pass_sums(1e8, 3.0, 1.0, 3.0, -1e8)[0] == [7.0, 1.0]
    assert pass_sums(4096.0, 0.0, 1.0, 0.0, -4096.0)[1] == [2 * 2**24 + 1] * 2


def test_default_threads_are_the_cores_on_the_cpu_and_one_on_a_gpu(monkeypatch):
    monkeypatch.setattr(gradients, "cpu_cores", lambda: 3)
    assert gradients.default_threads(CPU) == 3
    monkeypatch.setattr(gradients, "cpu_cores", lambda: 64)
    assert gradients.default_threads(CPU) == gradients.MAX_AUTO_THREADS == 8
    assert gradients.default_threads(xaikit.Device("cuda", 0)) == 1
