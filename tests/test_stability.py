"""The stability of noisy maps (split-half, Spearman-Brown) and ``num_samples="auto"``."""

import csv
import warnings

import nnabla.parametric_functions as PF
import numpy as np
import pytest
from PIL import Image

import xaikit
from xaikit.engine import stability
from xaikit.engine.backend import F, nn
from xaikit.engine.noise import host_copies
from xaikit.engine.stability import pearson, spearman_brown, split_half
from xaikit.testing import run_cli, save_nnc_nnp

LINEAR_WEIGHTS = np.random.default_rng(2).normal(size=(16 * 16, 3)).astype(np.float32)


def bn_cnn(x):
    """Two convolutions with batch normalisation and ReLUs, random weights: its gradient
    changes with the noise where the pixels' contrast is high."""
    h = x
    for i in range(2):
        h = PF.convolution(h, 8, (3, 3), pad=(1, 1), name=f"conv{i}")
        h = F.relu(PF.batch_normalization(h, batch_stat=False, name=f"bn{i}"))
    return PF.affine(F.global_average_pooling(h), 3, name="fc")


def linear(x):
    """Class scores linear in the pixels: the gradient is the same at every noisy copy."""
    w = nn.Variable.from_numpy_array(LINEAR_WEIGHTS)
    return F.affine(F.reshape(x, (x.shape[0], -1)), w)


def half_square(x):
    """score = sum(x**2) / 2, whose gradient at a noisy copy is the copy itself."""
    return F.sum(F.reshape(F.mul2(x, x), (x.shape[0], 1, -1)), axis=2) * 0.5


@pytest.fixture(scope="module")
def bn_path(tmp_path_factory):
    return save_nnc_nnp(tmp_path_factory.mktemp("bn") / "bn.nnp", bn_cnn, (1, 16, 16))


@pytest.fixture(scope="module")
def bn_model(bn_path):
    return xaikit.load_model(bn_path)


@pytest.fixture(scope="module")
def easy_and_hard():
    """A low-contrast image (little noise: the gradient barely changes) and a
    full-contrast one (noise of 0.15 of the range: it changes a lot)."""
    rng = np.random.default_rng(0)
    easy = (0.5 + 0.02 * rng.random((1, 16, 16))).astype(np.float32)
    hard = rng.random((1, 16, 16), dtype=np.float32)
    return easy, hard


def explain(model, image, class_index=1, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cap's warning has its own test
        return xaikit.explain("smoothgrad", model=model, image=image, class_index=class_index,
                              **params)


def test_correlations_and_their_correction():
    a = np.arange(12.0)
    assert pearson(a, 2 * a + 1) == pytest.approx(1)
    assert pearson(a, -a) == pytest.approx(-1)
    assert pearson(np.ones(5), np.ones(5)) == 1.0  # two equal flat maps agree
    assert pearson(np.ones(5), a[:5]) == 0.0
    # a map and its multiples: exactly 1 or -1, where the quotient is 1 +- 2**-52
    ramp = np.random.default_rng(0).random(10)
    assert pearson(ramp, 7 * ramp) == 1.0 and pearson(ramp, -7 * ramp) == -1.0
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    assert spearman_brown(1.0) == 1.0
    assert spearman_brown(0.0) == spearman_brown(-0.3) == 0.0
    # Channels are summed before correlating: opposite channels that sum alike agree.
    even = np.stack([a.reshape(3, 4), -a.reshape(3, 4) + 2 * a.reshape(3, 4)])
    odd = np.stack([2 * a.reshape(3, 4), np.zeros((3, 4))])
    assert split_half(even, odd) == pytest.approx(1)


@pytest.mark.parametrize("variant", ["smoothgrad", "vargrad"])
@pytest.mark.parametrize("samples", [10, 11])
def test_a_maps_stability_is_that_of_its_even_and_odd_copies_maps(variant, samples):
    """With the gradient of half_square, each copy's map is the copy: the maps of the copies
    of even and of odd sample index are worked out here from the copies themselves."""
    model = xaikit.load_model(half_square, input_shape=(1, 4, 4), name="half_square")
    image = np.random.default_rng(5).random((1, 1, 4, 4), dtype=np.float32)
    copies = host_copies(image[0], 0.3, 8, samples).astype(np.float64)
    halves = [copies[0::2], copies[1::2]]
    maps = [h.mean(axis=0) if variant == "smoothgrad" else h.var(axis=0) for h in halves]
    result = xaikit.smoothed_gradients(model, image, [0], xaikit.Smoothing(
        samples, 0.3, variant, seed=8), batch_size=4)
    assert result.stability == [pytest.approx(split_half(*maps), abs=1e-6)]


def test_correlations_are_computed_in_float64_whatever_the_maps_type():
    rng = np.random.default_rng(4)
    a = (1000 + rng.random(5000)).astype(np.float32)
    b = (a + 0.1 * rng.random(5000)).astype(np.float32)
    exact = pearson(a.astype(np.float64), b.astype(np.float64))
    assert pearson(a, b) == exact
    assert pearson(a, b.astype(np.float64)) == pearson(a.astype(np.float64), b) == exact


def test_independent_noise_maps_have_stability_near_zero():
    rng = np.random.default_rng(0)
    values = [split_half(rng.normal(size=(3, 64, 64)), rng.normal(size=(3, 64, 64)))
              for _ in range(20)]
    assert max(values) < 0.1 and np.mean(values) < 0.03


def test_checks_are_seed_independent_multiples_growing_by_a_quarter():
    counts = stability.checks(1000)
    assert counts[0] == stability.FIRST_CHECK and counts[-1] == 1000
    assert all(c % stability.FIRST_CHECK == 0 for c in counts[:-1])
    for before, after in zip(counts, counts[1:]):
        assert before < after <= before + max(stability.FIRST_CHECK,
                                              before // stability.GROWTH + stability.FIRST_CHECK)
    assert stability.checks(10) == [10]
    assert stability.checks(16) == [16] and stability.checks(32) == [16, 32]


def test_a_map_is_stable_from_its_target_stability_on():
    assert stability.converged(0.95, 0.95) and stability.converged(0.96, 0.95)
    assert not stability.converged(0.9499, 0.95) and not stability.converged(None, 0.01)


@pytest.mark.parametrize("variant", ["smoothgrad_sq", "smoothgrad"])
def test_a_map_that_ignores_the_noise_has_stability_one(variant):
    model = xaikit.load_model(linear, input_shape=(1, 16, 16), name="linear")
    image = np.random.default_rng(1).random((1, 16, 16), dtype=np.float32)
    for n in (2, 7, 40):
        exp = explain(model, image, num_samples=n, seed=0, variant=variant, noise_level=0.5)
        assert exp.metadata["samples"] == n
        assert exp.metadata["stability"] == pytest.approx(1, abs=1e-9)
    auto = explain(model, image, num_samples="auto", seed=0, variant=variant)
    assert auto.metadata["samples"] == stability.FIRST_CHECK  # the first check suffices


@pytest.mark.parametrize("variant", ["smoothgrad_sq", "smoothgrad", "vargrad"])
def test_a_map_of_pure_noise_has_stability_near_zero(variant):
    # The gradient of sum(x**2)/2 at a noisy copy is the copy: on a black image with one
    # white pixel (the noise's range), every map is noise but for that pixel.
    model = xaikit.load_model(half_square, input_shape=(1, 64, 64), name="square")
    image = np.zeros((1, 64, 64), np.float32)
    image[0, 20, 30] = 1
    values = [explain(model, image, 0, num_samples=n, seed=s, variant=variant,
                      noise_level=1.0).metadata["stability"]
              for n in (2, 16, 64) for s in range(4)]
    assert max(values) < 0.15 and np.mean(values) < 0.05


@pytest.mark.parametrize("num_samples", [4, 8])
def test_stability_predicts_the_correlation_of_two_seeds_maps(bn_model, easy_and_hard,
                                                              num_samples):
    _, hard = easy_and_hard
    exps = [explain(bn_model, hard, num_samples=num_samples, seed=s, noise_level=0.3)
            for s in range(24)]
    stabilities = np.array([e.metadata["stability"] for e in exps])
    maps = [e.attribution.sum(axis=0) for e in exps]
    pairs = np.array([pearson(maps[i], maps[i + 1]) for i in range(0, len(maps), 2)])
    assert pairs.mean() < 0.95  # far enough from 1 for the prediction to mean something
    error = np.sqrt(stabilities.var(ddof=1) / len(stabilities)
                    + pairs.var(ddof=1) / len(pairs))
    assert abs(stabilities.mean() - pairs.mean()) < 3 * error
    # Uncorrected, the halves' own correlation would predict far too little.
    halves = 1 / (2 / stabilities - 1)  # Spearman-Brown inverted
    assert pairs.mean() - halves.mean() > 5 * error


def test_auto_stops_earlier_on_an_easy_image_than_on_a_hard_one(bn_model, easy_and_hard):
    easy, hard = (explain(bn_model, image, num_samples="auto", seed=0, stability=0.99)
                  for image in easy_and_hard)
    assert easy.metadata["samples"] == stability.FIRST_CHECK
    assert easy.metadata["samples"] < hard.metadata["samples"] < 1000
    for exp in (easy, hard):
        assert exp.metadata["stability"] >= 0.99 and exp.metadata["capped"] is False
    # The hard map was not yet stable at the check before the one it stopped at.
    before = max(c for c in stability.checks(1000) if c < hard.metadata["samples"])
    earlier = explain(bn_model, easy_and_hard[1], num_samples=before, seed=0)
    assert earlier.metadata["stability"] < 0.99


def test_auto_gives_the_same_map_and_stop_at_any_thread_count(bn_model, easy_and_hard):
    _, hard = easy_and_hard
    runs = [explain(bn_model, hard, num_samples="auto", seed=3, stability=0.99, threads=t)
            for t in (1, 2, 3)]
    for other in runs[1:]:
        assert np.array_equal(other.attribution, runs[0].attribution)
        assert other.metadata == runs[0].metadata
    # The map is the fixed-count map of the samples it used.
    fixed = explain(bn_model, hard, num_samples=runs[0].metadata["samples"], seed=3)
    np.testing.assert_allclose(fixed.attribution, runs[0].attribution, rtol=1e-5)
    assert fixed.metadata["stability"] == pytest.approx(runs[0].metadata["stability"])


def test_auto_in_a_batch_stops_each_image_where_it_stops_alone(bn_model, easy_and_hard):
    algorithm = xaikit.plugin.manager.registry().get("explainer", "smoothgrad")
    params = algorithm.Params(num_samples="auto", seed=1, stability=0.99)
    images = np.stack(list(easy_and_hard) + [easy_and_hard[1][:, ::-1]])
    batch = algorithm.explain_batch(bn_model, images, [1, 1, 2], params)
    for image, c, result in zip(images, [1, 1, 2], batch):
        alone = algorithm.explain(bn_model, image, c, params)
        assert result.metadata == alone.metadata
        np.testing.assert_allclose(result.values, alone.values, rtol=1e-6)
    assert len({result.metadata["samples"] for result in batch}) > 1


def test_the_cap_is_honoured_and_reported(bn_model, easy_and_hard):
    _, hard = easy_and_hard
    with pytest.warns(UserWarning, match=r"smoothgrad: class 1: stopped at max_samples "
                      r"\(40 samples\) with stability 0\.9\d\d, short of"):
        exp = xaikit.explain("smoothgrad", model=bn_model, image=hard, class_index=1,
                             num_samples="auto", seed=0, stability=0.99, max_samples=40)
    assert exp.metadata["samples"] == 40 and exp.metadata["capped"] is True
    assert exp.metadata["stability"] < 0.99
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a map that converged warns of nothing
        xaikit.explain("smoothgrad", model=bn_model, image=hard, class_index=1,
                       num_samples="auto", seed=0, max_samples=40)


@pytest.mark.parametrize("value,message", [
    (0, "num_samples: Input should be greater than or equal to 1 (got 0)"),
    ("many", "num_samples: Input should be a whole number or 'auto' (got 'many')"),
    (2.5, "num_samples: Input should be a valid integer, got a number with a fractional part"),
    (25, "stability: applies only with --num-samples auto (got 0.9)"),
])
def test_num_samples_is_a_count_or_auto(bn_model, value, message):
    with pytest.raises(xaikit.ParameterError) as error:
        xaikit.explain("smoothgrad", model=bn_model, image=np.zeros((1, 16, 16), np.float32),
                       num_samples=value, stability=0.9)
    assert str(error.value).startswith(message)


def test_stopping_rules_apply_only_to_auto(bn_model):
    image = np.zeros((1, 16, 16), np.float32)
    with pytest.raises(xaikit.ParameterError, match="^max_samples: applies only with "
                       "--num-samples auto \\(got 50\\)$"):
        xaikit.explain("smoothgrad", model=bn_model, image=image, max_samples=50)
    fixed = xaikit.explain("smoothgrad", model=bn_model, image=image, num_samples=4, seed=0,
                           stability=0.95, max_samples=1000)  # the defaults: nothing ignored
    assert fixed.metadata["samples"] == 4


def test_the_device_path_halves_the_samples_as_the_host_does(bn_model, easy_and_hard,
                                                              monkeypatch):
    """The GPU's reduction (a 0/1 matrix on the device) run on the CPU, with passes that
    share two or three images and begin at odd sample indices."""
    from xaikit.engine import passes

    algorithm = xaikit.plugin.manager.registry().get("explainer", "smoothgrad")
    easy, hard = easy_and_hard
    images = np.stack([easy, hard, hard[:, ::-1]])
    # 11 samples in passes of 5: passes of two images beginning at odd indices; 3 in
    # passes of 8: a pass of three images
    for variant, samples, batch in [("smoothgrad_sq", 11, 5), ("smoothgrad", 11, 5),
                                    ("vargrad", 11, 5), ("smoothgrad", 3, 8)]:
        params = algorithm.Params(num_samples=samples, seed=2, batch_size=batch,
                                  variant=variant)
        host = algorithm.explain_batch(bn_model, images, [1, 2, 0], params)
        with monkeypatch.context() as patched:
            patched.setattr(passes, "on_host", lambda device: False)
            patched.setattr(passes, "NoisyCopies", host_noise(passes.NoisyCopies))
            device = algorithm.explain_batch(bn_model, images, [1, 2, 0], params)
        for h, d in zip(host, device):
            assert d.metadata["stability"] == pytest.approx(h.metadata["stability"], abs=1e-6)
            np.testing.assert_allclose(d.values, h.values, rtol=1e-4, atol=1e-9)


def host_noise(cls):
    """NoisyCopies drawing numpy's noise (the host's) as nnabla arrays (the device's)."""
    def make(*args, on_host):
        copies = cls(*args, on_host=True)
        rows = copies.rows
        copies.rows = lambda start, stop: nn.NdArray.from_numpy_array(rows(start, stop))
        return copies
    return make


class PlainGradient(xaikit.Explainer):
    """The input gradient through ``explain_batch`` only: smoothed, its copies go through
    the default ``explain_smoothed`` (one thread, maps added up on the host)."""

    name = "plain-gradient"

    def explain(self, model, image, class_index, params):
        return xaikit.input_gradients(model, image[None], class_index)[0]

    def explain_batch(self, model, images, class_indices, params):
        return xaikit.input_gradients(model, images, class_indices)


@pytest.fixture
def plain_gradient():
    class Plugin:
        @xaikit.hookimpl
        def register_explainers(self, register):
            register(PlainGradient())

    name = xaikit.register_plugin(Plugin(), name="plain-gradient-plugin")
    yield
    xaikit.unregister_plugin(name)


def test_any_explainer_smoothed_with_auto_stops_as_smoothgrad_does(bn_model, easy_and_hard,
                                                                    plain_gradient):
    _, hard = easy_and_hard
    smoothgrad = explain(bn_model, hard, num_samples="auto", seed=2, stability=0.99)
    for name in ("gradient", "plain-gradient"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            smoothed = xaikit.explain(name, model=bn_model, image=hard, class_index=1, seed=2,
                                      smooth_samples="auto", smooth_variant="smoothgrad_sq",
                                      smooth_stability=0.99)
        assert smoothed.reported["samples"] == smoothgrad.reported["samples"] > 16
        assert smoothed.reported["stability"] == pytest.approx(
            smoothgrad.reported["stability"], abs=1e-6)
        np.testing.assert_allclose(smoothed.attribution, smoothgrad.attribution, rtol=1e-5)
    with pytest.warns(UserWarning, match="plain-gradient: class 1: stopped at max_samples"):
        capped = xaikit.explain("plain-gradient", model=bn_model, image=hard, class_index=1,
                                seed=2, smooth_samples="auto", smooth_stability=0.99,
                                smooth_max_samples=20)
    assert capped.reported == {"samples": 20, "stability": capped.reported["stability"],
                               "capped": True}


def test_an_explainer_smoothed_gets_as_many_copies_per_call_as_memory_allows(
        bn_model, easy_and_hard):
    """With a number of samples, the copies of a call in one pass (at most 256); with auto,
    passes of :func:`auto_batch_size` for one thread (16 copies for this small model), cut
    from the rounds of 16 copies and, past 64, of 32 (and 18 to the cap of 130)."""
    from xaikit.engine.passes import smoothed_maps

    sizes = []

    def explain(copies, classes):
        sizes.append(len(copies))
        return xaikit.input_gradients(bn_model, copies, classes)

    _, hard = easy_and_hard
    smoothed_maps(bn_model, explain, np.stack([hard, hard]), [1, 2], xaikit.Smoothing(40))
    assert sizes == [80]
    sizes.clear()
    auto = xaikit.Smoothing("auto", seed=2, stability=0.9999, max_samples=130)
    result = smoothed_maps(bn_model, explain, hard[None], [1], auto)
    assert result.samples == [130] and result.capped == [True]
    assert sizes == [16] * 8 + [2]


@pytest.fixture(scope="module")
def image_files(easy_and_hard, tmp_path_factory):
    """The easy and the hard image as 8-bit PNGs, and a dataset CSV of both, twice."""
    folder = tmp_path_factory.mktemp("stability-images")
    paths = []
    for name, pixels in zip(("easy", "hard"), easy_and_hard):
        paths.append(folder / f"{name}.png")
        Image.fromarray(np.round(pixels[0] * 255).astype(np.uint8)).save(paths[-1])
    with open(folder / "data.csv", "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(
            [["x:image", "y:label"]] + [[f"./{p.name}", "1"] for p in paths * 2])
    return paths + [folder / "data.csv"]


def test_cli_auto_gives_the_same_map_twice_and_reports_it(bn_path, image_files, tmp_path):
    easy, hard, _ = image_files
    runs = {}
    for name, image in (("easy", easy), ("hard", hard), ("again", hard)):
        out = tmp_path / f"{name}.npy"
        result = run_cli(["run", "smoothgrad", "-m", bn_path, "-i", image, "-c", "1",
                          "--num-samples", "auto", "--seed", "0", "--stability", "0.99",
                          "-o", out, "--verbose"])
        assert result.exit_code == 0, result.output
        assert result.stdout == f"{out}\n"
        reported = result.stderr.strip().split(": ", 1)[1]
        runs[name] = (np.load(out), dict(fact.split(" ") for fact in reported.split(", ")))
    assert np.array_equal(runs["hard"][0], runs["again"][0])
    assert runs["hard"][1] == runs["again"][1]
    assert int(runs["easy"][1]["samples"]) < int(runs["hard"][1]["samples"])
    for _, facts in runs.values():
        assert set(facts) == {"samples", "stability", "capped", "method", "differentiated",
                              "differentiated_score", "variable"}
        assert facts["capped"] == "False" and float(facts["stability"]) >= 0.99
    smoothed = run_cli(["run", "gradient", "-m", bn_path, "-i", hard, "-c", "1", "--seed", "0",
                        "--smooth-samples", "auto", "--smooth-variant", "smoothgrad_sq",
                        "--smooth-stability", "0.99", "-o", tmp_path / "gradient.npy",
                        "--verbose"])
    assert smoothed.exit_code == 0, smoothed.output
    settling = ", ".join(f"{k} {runs['hard'][1][k]}" for k in ("samples", "stability",
                                                                "capped"))
    assert smoothed.stderr == f"class 1: {settling}\n"  # the same samples and stability
    np.testing.assert_allclose(np.load(tmp_path / "gradient.npy"), runs["hard"][0], rtol=1e-5)
    capped = run_cli(["run", "smoothgrad", "-m", bn_path, "-i", hard, "-c", "1",
                      "-n", "auto", "--stability", "0.99", "--max-samples", "32",
                      "--seed", "0", "-o", tmp_path / "capped.png"])
    assert capped.exit_code == 0
    assert capped.stderr.startswith("warning: smoothgrad: class 1: stopped at max_samples "
                                    "(32 samples) with stability 0.9")


def test_a_dataset_run_stops_each_row_on_its_own_and_sums_them_up(bn_path, bn_model,
                                                                  image_files, tmp_path):
    easy, hard, data = image_files
    out = tmp_path / "sg.csv"
    result = run_cli(["run", "smoothgrad", "-m", bn_path, "-i", data, "-o", out,
                      "-n", "auto", "--stability", "0.99", "--seed", "0", "--verbose"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(open(out)))
    assert rows[0][-2:] == ["samples:noisy copies", "stability:split-half"]
    alone = [explain(bn_model, str(image), num_samples="auto", stability=0.99, seed=0)
             for image in (easy, hard)]
    for row, exp in zip(rows[1:], alone * 2):
        assert row[-2:] == [str(exp.metadata["samples"]), f"{exp.metadata['stability']:.4f}"]
    samples = sorted(e.metadata["samples"] for e in alone)
    lines = result.stderr.splitlines()
    assert lines[:4] == [f"row {i}: samples {alone[i % 2].metadata['samples']}, stability "
                         f"{alone[i % 2].metadata['stability']:.4f}, capped False"
                         for i in range(4)]
    assert lines[-1].endswith(f"; samples {samples[0]}-{samples[1]}, median "
                              f"{sum(samples) / 2:g}, 0 at max_samples; stability "
                              + lines[-1].split("; stability ")[1])
    capped = xaikit.explain_dataset("smoothgrad", model=bn_path, input=data,
                                    output=tmp_path / "capped.csv", progress=False,
                                    num_samples="auto", stability=0.99, max_samples=32, seed=0)
    assert capped.settling[1] == {"samples": 32, "stability": capped.settling[1]["stability"],
                                  "capped": True}
    assert ", 2 at max_samples; stability " in capped.summary()
    fixed = xaikit.explain_dataset("smoothgrad", model=bn_path, input=data,
                                   output=tmp_path / "fixed.csv", progress=False,
                                   num_samples=8, seed=0)
    assert "; samples" not in fixed.summary() and "; stability 0." in fixed.summary()
