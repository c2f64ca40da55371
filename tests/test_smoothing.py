"""Noise around any explainer: the smoothing run options, in the API, the CLI and datasets."""

import re
from pathlib import Path

import numpy as np
import pytest

import xaikit
from xaikit.engine import gradients
from xaikit.engine.stability import split_half
from xaikit.testing import check_explainer, make_dataset_csv, run_cli

ROOT = Path(__file__).resolve().parent.parent
DEMO = ["-m", ROOT / "demo/digits.nnp", "-i", ROOT / "demo/images/digit_3.png", "-c", "3"]


class Squares(xaikit.Explainer):
    """A map known exactly at any copy: the squared input, times the class plus one.

    Records the batch sizes it is called with."""

    name = "squares"
    description = "the squared input, times the class plus one"

    def __init__(self):
        self.batches = []

    def explain(self, model, image, class_index, params):
        return xaikit.Attribution(image ** 2 * (class_index + 1), {"class": class_index})

    def explain_batch(self, model, images, class_indices, params):
        self.batches.append(len(images))
        return super().explain_batch(model, images, class_indices, params)


@pytest.fixture
def squares():
    explainer = Squares()

    class Plugin:
        @xaikit.hookimpl
        def register_explainers(self, register):
            register(explainer)

    name = xaikit.register_plugin(Plugin(), name="squares-plugin")
    yield explainer
    xaikit.unregister_plugin(name)


def reference(maps, variant):
    """A variant of the maps of one image's copies, in float64."""
    maps = maps.astype(np.float64)
    return {"smoothgrad": maps.mean(axis=0), "smoothgrad_sq": (maps ** 2).mean(axis=0),
            "vargrad": maps.var(axis=0)}[variant]


@pytest.mark.parametrize("variant", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_any_explainer_is_smoothed_over_the_seeded_noisy_copies(models, images, squares,
                                                                 variant):
    model = xaikit.load_model(models["rgb"])
    image = xaikit.load_image(images["rgb"], model)
    exp = xaikit.explain("squares", model=model, image=image, class_index=2, seed=7,
                         smooth_samples=9, smooth_noise_level=0.3, smooth_variant=variant)
    copies = xaikit.Smoothing(9, 0.3, variant, seed=7).copies(image, 7)
    assert copies.shape == (9,) + model.input_shape
    want = reference(copies ** 2 * 3, variant)
    np.testing.assert_allclose(exp.attribution, want, rtol=1e-5, atol=1e-7)
    # Each copy had its own metadata; the smoothed map reports its samples and stability,
    # from the maps of its copies of even and of odd index.
    halves = [reference(copies[parity::2] ** 2 * 3, variant) for parity in (0, 1)]
    assert exp.reported == {"samples": 9, "stability": pytest.approx(split_half(*halves))}
    assert exp.params == {"smooth_samples": 9, "smooth_noise_level": 0.3,
                          "smooth_variant": variant, "smooth_stability": 0.95,
                          "smooth_max_samples": 1000, "seed": 7}
    plain = xaikit.explain("squares", model=model, image=image, class_index=2, seed=7)
    assert plain.reported == {"class": 2} and plain.params == {}


def test_the_noise_is_smoothgrads(models, images):
    """Per image, the copies are SmoothGrad's: noise from the seed and the sample index."""
    model = xaikit.load_model(models["grey"])
    image = xaikit.load_image(images["grey"], model)
    smoothing = xaikit.Smoothing(40, 0.2, seed=3)
    copies = smoothing.copies(image, 3)
    assert np.array_equal(smoothing.copies(image, 3, 10, 25), copies[10:25])
    noise = copies - image
    assert abs(noise.std() / (0.2 * (image.max() - image.min())) - 1) < 0.1
    assert not np.array_equal(xaikit.Smoothing(40, 0.2).copies(image, 4), copies)
    first, second = xaikit.Smoothing(5).seeds(2)
    assert first != second and xaikit.Smoothing(5, seed=9).seeds(2) == [9, 9]


def test_seeded_maps_repeat_and_other_seeds_differ(models, images, squares):
    run = lambda seed: xaikit.explain("squares", model=models["grey"],  # noqa: E731
                                      image=images["grey"], smooth_samples=4,
                                      seed=seed).attribution
    assert np.array_equal(run(1), run(1))
    assert not np.allclose(run(1), run(2))
    assert not np.allclose(run(None), run(None))


def test_copies_go_through_explain_batch_in_memory_bounded_chunks(models, images, squares,
                                                                  monkeypatch):
    model = xaikit.load_model(models["grey"])
    batch = np.stack([xaikit.load_image(images["grey"], model)] * 3)
    batch[1] = batch[1, :, ::-1]
    smoothing = xaikit.Smoothing(10, 0.2, "vargrad", seed=5)
    whole = squares.explain_smoothed(model, batch, [0, 1, 2], None, smoothing)
    assert squares.batches == [30]  # one chunk: the budget holds all 30 copies
    monkeypatch.setattr(gradients, "MEMORY_BUDGET", 7 * gradients.bytes_per_sample(model))
    squares.batches.clear()
    chunked = squares.explain_smoothed(model, batch, [0, 1, 2], None, smoothing)
    assert squares.batches == [7, 7, 7, 7, 2]  # chunks may span images
    for i, c in enumerate([0, 1, 2]):
        np.testing.assert_allclose(chunked[i].values, whole[i].values, rtol=1e-6)
        assert chunked[i].metadata == pytest.approx(whole[i].metadata)
        want = reference(smoothing.copies(batch[i], 5) ** 2 * (c + 1), "vargrad")
        np.testing.assert_allclose(whole[i].values, want, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("variant", ["smoothgrad_sq", "smoothgrad", "vargrad"])
def test_smoothed_gradient_is_smoothgrad(models, images, variant):
    model = xaikit.load_model(models["rgb"])
    common = dict(model=model, image=images["rgb"], class_index=1, seed=4)
    smoothgrad = xaikit.explain("smoothgrad", num_samples=12, noise_level=0.25,
                                variant=variant, batch_size=5, **common)
    gradient = xaikit.explain("gradient", smooth_samples=12, smooth_noise_level=0.25,
                              smooth_variant=variant, batch_size=5, **common)
    assert np.array_equal(gradient.attribution, smoothgrad.attribution)


@pytest.mark.parametrize("params", [{}, {"score": "logit", "batch_size": 1, "threads": 2}])
def test_the_gradient_explainer_keeps_the_contract(params):
    check_explainer("gradient", **params)


def test_gradient_is_the_input_gradient(models, images):
    model = xaikit.load_model(models["grey"])
    exp = xaikit.explain("gradient", model=model, image=images["grey"], class_index=2,
                         score="logit")
    pixels = xaikit.load_image(images["grey"], model)
    want = xaikit.input_gradients(model, pixels[None], 2, score="logit")[0]
    assert np.array_equal(exp.attribution, want) and np.abs(want).max() > 0
    assert not np.allclose(exp.attribution, xaikit.explain(
        "gradient", model=model, image=images["grey"], class_index=2).attribution)


def test_cli_gradient_smoothed_matches_smoothgrad(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    smoothed = run_cli(["run", "gradient", *DEMO, "--smooth-samples", "50",
                        "--smooth-variant", "smoothgrad_sq", "--seed", "0", "-o", a])
    smoothgrad = run_cli(["run", "smoothgrad", *DEMO, "-n", "50", "--seed", "0", "-o", b])
    assert smoothed.exit_code == 0 and smoothgrad.exit_code == 0, smoothed.output
    assert np.array_equal(np.load(a), np.load(b))
    assert np.load(a).max() > 0


def test_the_run_seed_is_the_explainers_seed_and_one_option(models, images):
    exp = xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                         num_samples=3, seed=11)
    assert exp.params["seed"] == 11
    help_text = run_cli(["run", "smoothgrad", "--help"]).stdout
    assert len(re.findall(r"^ +--seed\b", help_text, flags=re.M)) == 1
    for option in ("--smooth-samples", "--smooth-noise-level", "--smooth-variant"):
        assert option in help_text and option in run_cli(["run", "gradient", "--help"]).stdout


@pytest.mark.parametrize("values,message", [
    ({"samples": 2, "variant": "mean"},
     "variant: 'mean' is not one of smoothgrad, smoothgrad_sq, vargrad"),
    ({"samples": 0}, "samples: 0 is neither at least 1 nor 'auto'"),
    ({"samples": 2.5}, "samples: 2.5 is neither at least 1 nor 'auto'"),
    ({"samples": 2, "noise_level": -0.1}, "noise_level: -0.1 is not at least 0"),
    ({"samples": "auto", "stability": 0.0}, "stability: 0.0 is not between 0 and 1"),
    ({"samples": "auto", "stability": 1.0}, "stability: 1.0 is not between 0 and 1"),
    ({"samples": "auto", "max_samples": 1}, "max_samples: 1 is not at least 2"),
])
def test_a_smoothing_the_api_cannot_draw_is_a_one_line_error(values, message):
    with pytest.raises(xaikit.ParameterError) as error:
        xaikit.Smoothing(**values)
    assert str(error.value) == message
    assert xaikit.Smoothing("auto", stability=0.5, max_samples=2).checks() == [2]
    assert xaikit.Smoothing(1, noise_level=0.0).checks() == [1]


@pytest.mark.parametrize("values,message", [
    ({"smooth_samples": 0}, "smooth_samples: Input should be greater than or equal to 1"),
    ({"smooth_samples": 2, "smooth_noise_level": 1.5},
     "smooth_noise_level: Input should be less than or equal to 1"),
    ({"smooth_samples": 2, "smooth_variant": "mean"},
     "smooth_variant: Input should be 'smoothgrad', 'smoothgrad_sq' or 'vargrad'"),
    ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
    ({"smooth_noise_level": 0.3}, "smooth_noise_level: applies only with --smooth-samples N "
     "or auto (got 0.3)"),
    ({"smooth_variant": "vargrad"}, "smooth_variant: applies only with --smooth-samples"),
    ({"smooth_samples": 4, "smooth_stability": 0.9},
     "smooth_stability: applies only with --smooth-samples auto (got 0.9)"),
    ({"smooth_samples": 4, "smooth_max_samples": 50},
     "smooth_max_samples: applies only with --smooth-samples auto (got 50)"),
])
def test_bad_smoothing_options_are_one_line_errors(models, images, values, message):
    with pytest.raises(xaikit.ParameterError, match=f"^{re.escape(message)}"):
        xaikit.explain("gradient", model=models["grey"], image=images["grey"], **values)


@pytest.mark.parametrize("values", [
    {"smooth_samples": 4, "smooth_noise_level": 0.15, "smooth_stability": 0.95},
    {"smooth_samples": "auto", "smooth_stability": 0.9, "smooth_max_samples": 40},
])
def test_smoothing_options_that_apply_or_keep_their_defaults_pass(models, images, values):
    xaikit.explain("gradient", model=models["grey"], image=images["grey"], seed=0, **values)


def test_a_dataset_run_smooths_every_row_and_redoes_maps_when_smoothing_changes(
        models, tmp_path, squares):
    data = make_dataset_csv(tmp_path / "data.csv", rows=3, num_classes=3)
    model = xaikit.load_model(models["grey"])
    run = lambda **p: xaikit.explain_dataset(  # noqa: E731
        "squares", model=model, input=data, output=tmp_path / "out.csv", progress=False,
        sinks=["npy"], seed=2, **p)
    first = run(smooth_samples=5)
    assert first.explained == 3
    for row, path in enumerate(first.maps):
        image = tmp_path / "images" / str(row % 3) / f"{row}.png"
        alone = xaikit.explain("squares", model=model, image=image, class_index=row % 3,
                               smooth_samples=5, seed=2)
        np.testing.assert_allclose(np.load(path), alone.attribution, rtol=1e-6)
    assert run(smooth_samples=5).reused == 3
    assert run(smooth_samples=6).explained == 3
    assert run().explained == 3
