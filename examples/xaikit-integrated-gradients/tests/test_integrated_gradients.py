"""Integrated Gradients through xaikit's public API: installed, conformant, complete."""

import re
from pathlib import Path

import nnabla as nn
import nnabla.functions as F
import numpy as np
import pytest
import xaikit_integrated_gradients as ig
from PIL import Image

import xaikit
from xaikit.testing import check_explainer, make_nnp, run_cli

DEMO = Path(__file__).resolve().parents[3] / "demo"
WEIGHTS = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)


def test_the_plugin_is_installed():
    assert "integrated-gradients" in xaikit.explainers()
    listing = run_cli(["list"])
    assert re.search(r"integrated-gradients +xaikit-integrated-gradients "
                     r"\(xaikit_integrated_gradients\) +Integrated Gradients", listing.stdout)


@pytest.mark.parametrize("baseline", ["black", "white", "blur", "uniform-noise"])
def test_the_explainer_keeps_the_contract(baseline):
    check_explainer("integrated-gradients", steps=3, baseline=baseline, seed=0)


def linear(x):
    return F.affine(x, nn.Variable.from_numpy_array(WEIGHTS))


def test_a_linear_model_is_attributed_exactly():
    model = xaikit.load_model(linear, input_shape=(1, 8, 8))
    image = np.random.default_rng(1).random((1, 8, 8), dtype=np.float32)
    exp = xaikit.explain("integrated-gradients", model=model, image=image, class_index=1,
                         steps=1, baseline="white")
    np.testing.assert_allclose(exp.attribution, (image - 1) * WEIGHTS[:, 1].reshape(1, 8, 8),
                               rtol=1e-5, atol=1e-6)
    meta = exp.metadata
    assert meta["score"] == pytest.approx(float((image.ravel() @ WEIGHTS)[1]), rel=1e-5)
    assert meta["baseline_score"] == pytest.approx(float(WEIGHTS[:, 1].sum()), rel=1e-5)
    assert abs(meta["completeness_gap"]) < 1e-4
    assert meta["attribution_sum"] == pytest.approx(meta["score"] - meta["baseline_score"])


def test_the_completeness_gap_shrinks_as_steps_grow(tiny_model, tiny_image):
    gaps = [abs(xaikit.explain("integrated-gradients", model=tiny_model, image=tiny_image,
                               class_index=1, steps=steps).metadata["completeness_gap"])
            for steps in (1, 4, 16, 64)]
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < gaps[0] / 100


@pytest.mark.parametrize("digit", range(10))
def test_demo_attributions_sum_to_the_score_difference(digit):
    exp = xaikit.explain("integrated-gradients", model=DEMO / "digits.nnp", class_index=digit,
                         image=DEMO / "images" / f"digit_{digit}.png")
    meta = exp.metadata
    assert abs(meta["completeness_gap"]) < 0.02 * (meta["score"] - meta["baseline_score"])
    assert (exp.attribution[exp.input == 0] == 0).all()  # black baseline: zero on black
    positive = np.maximum(exp.attribution, 0)
    ink = exp.input > 0.2
    assert positive[ink].sum() > 0.5 * positive.sum()  # the evidence lies on the strokes


def test_the_batch_size_does_not_change_the_map(tiny_model, tiny_image):
    maps = [xaikit.explain("integrated-gradients", model=tiny_model, image=tiny_image,
                           class_index=2, steps=10, batch_size=size).attribution
            for size in (1, 3, 10, 64)]
    for other in maps[1:]:
        np.testing.assert_allclose(other, maps[0], rtol=1e-5, atol=1e-9)


def baseline(model, image, **params):
    return ig.make_baseline(model, image, ig.IntegratedGradients.Params(**params))


def test_named_baselines(tiny_model, tmp_path):
    image = np.random.default_rng(2).random(tiny_model.input_shape, dtype=np.float32)
    assert (baseline(tiny_model, image, baseline="black") == 0).all()
    assert (baseline(tiny_model, image, baseline="white") == 1).all()
    raw = xaikit.load_model(make_nnp(tmp_path / "raw.nnp", no_image_normalization=True))
    assert (baseline(raw, image, baseline="white") == 255).all()
    noise = baseline(tiny_model, image, baseline="uniform-noise", seed=3)
    assert 0 <= noise.min() and noise.max() <= 1 and noise.std() > 0.2
    assert np.array_equal(noise, baseline(tiny_model, image, baseline="uniform-noise", seed=3))
    blurred = baseline(tiny_model, image, baseline="blur", blur_sigma=1.0)
    assert blurred.std() < image.std() / 2
    assert blurred.mean() == pytest.approx(image.mean(), abs=0.05)
    flat = np.full(tiny_model.input_shape, 0.25, np.float32)
    np.testing.assert_allclose(baseline(tiny_model, flat, baseline="blur"), flat, rtol=1e-6)


def test_an_image_file_baseline(tiny_model, tiny_image):
    image = xaikit.load_image(tiny_image, tiny_model)
    assert np.array_equal(baseline(tiny_model, image, baseline=str(tiny_image)), image)
    exp = xaikit.explain("integrated-gradients", model=tiny_model, image=tiny_image,
                         baseline=str(tiny_image), steps=2)
    assert (exp.attribution == 0).all() and exp.metadata["completeness_gap"] == 0


def test_bad_baselines_are_one_line_errors_naming_the_parameter(tiny_nnp, tiny_image, tmp_path):
    with pytest.raises(xaikit.ParameterError) as err:
        xaikit.explain("integrated-gradients", model=tiny_nnp, image=tiny_image,
                       baseline="grey")
    assert str(err.value) == ("baseline: expected black, white, blur, uniform-noise or an "
                              "image file (got 'grey')")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    result = run_cli(["run", "integrated-gradients", "-m", tiny_nnp, "-i", tiny_image,
                      "--baseline", text, "-o", tmp_path / "ig.png"])
    assert result.exit_code == 1
    assert result.stderr == f"error: --baseline: {text}: not an image file\n"


def test_the_cli_and_the_api_agree(tiny_nnp, tiny_image, tmp_path):
    out = tmp_path / "ig.png"
    result = run_cli(["run", "integrated-gradients", "-m", tiny_nnp, "-i", tiny_image,
                      "-c", "2", "--steps", "7", "--baseline", "blur", "--blur-sigma", "2",
                      "-o", out])
    assert result.exit_code == 0, result.output
    exp = xaikit.explain("integrated-gradients", model=tiny_nnp, image=tiny_image,
                         class_index=2, steps=7, baseline="blur", blur_sigma=2)
    api = exp.save(tmp_path / "api.png")
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(api)))


def test_every_sink_writes_the_map(tiny_nnp, tiny_image, tmp_path):
    exp = xaikit.explain("integrated-gradients", model=tiny_nnp, image=tiny_image, steps=4)
    written = xaikit.write_outputs(exp, tmp_path / "map.png", sinks=xaikit.sinks())
    assert [f.sink for f in written] == xaikit.sinks()
    for f in written:
        assert f.path.stat().st_size > 0, f.sink
