"""Grad-CAM through xaikit's public API: installed, conformant, and right on known answers."""

import re
from pathlib import Path

import nnabla as nn
import nnabla.functions as F
import numpy as np
import pytest
import xaikit_gradcam
from nnabla.utils.nnp_graph import NnpLoader

import xaikit
from xaikit.testing import check_explainer, run_cli, tiny_cnn

DEMO = Path(__file__).resolve().parents[3] / "demo"


def test_the_plugin_is_installed():
    assert "gradcam" in xaikit.explainers()
    listing = run_cli(["list"])
    assert re.search(r"gradcam +xaikit-gradcam \(xaikit_gradcam\) +Grad-CAM", listing.stdout)


@pytest.mark.parametrize("params", [{}, {"variant": "nnc"}])
def test_the_explainer_keeps_the_contract(params):
    check_explainer("gradcam", **params)


def detectors(x):
    """Three fixed 1x1 filters A0 = x, A1 = 1 - x, A2 = x; class scores: sum(A0), sum(A1)
    and sum(A0) - sum(A2), whose evidence cancels."""
    weight = nn.Variable.from_numpy_array(np.array([1, -1, 1], np.float32).reshape(3, 1, 1, 1))
    bias = nn.Variable.from_numpy_array(np.array([0, 1, 0], np.float32))
    sums = F.sum(F.convolution(x, weight, bias), axis=(2, 3))
    mix = np.array([[1, 0, 1], [0, 1, 0], [0, 0, -1]], np.float32)
    return F.affine(sums, nn.Variable.from_numpy_array(mix))


@pytest.fixture(scope="module")
def square():
    """The detectors model and an 8x8 image: a bright 3x3 square on black."""
    model = xaikit.load_model(detectors, input_shape=(1, 8, 8), name="detectors")
    image = np.zeros((1, 8, 8), np.float32)
    image[0, 2:5, 3:6] = 1.0
    return model, image


def test_the_map_shows_where_the_class_evidence_is(square):
    model, image = square
    bright = xaikit.explain("gradcam", model=model, image=image, class_index=0)
    dark = xaikit.explain("gradcam", model=model, image=image, class_index=1)
    assert bright.reported == {"layer": "Convolution"}
    np.testing.assert_allclose(bright.attribution, image)
    np.testing.assert_allclose(dark.attribution, 1 - image)


def test_paper_cancels_opposing_channels_and_nnc_does_not(square):
    model, image = square
    paper = xaikit.explain("gradcam", model=model, image=image, class_index=2)
    nnc = xaikit.explain("gradcam", model=model, image=image, class_index=2, variant="nnc")
    np.testing.assert_allclose(paper.attribution, 0)  # ReLU(1 * A0 - 1 * A2) = 0
    np.testing.assert_allclose(nnc.attribution, image / 3, rtol=1e-6)  # ReLU per channel


def nnc_gradcam(path, image, class_index, variable):
    """NNC's plugin's computation, written against nnabla directly, scaled to 0-1."""
    with nn.parameter_scope(f"nnc_reference_{path.stem}"):
        net = NnpLoader(str(path)).get_network("MainRuntime", batch_size=1)
    x, y = net.inputs["Input"], next(iter(net.outputs.values()))
    conv = net.variables[variable]
    conv.persistent = True
    x.d = image[None]
    selected = y[:, class_index]
    selected.forward()
    selected.backward()
    cam = np.maximum(conv.g.mean(axis=(0, 2, 3), keepdims=True) * conv.d, 0).mean(axis=(0, 1))
    return (cam - cam.min()) / (cam.max() - cam.min())


def test_nnc_variant_reproduces_nncs_map(tiny_nnp, tiny_image):
    model = xaikit.load_model(tiny_nnp)
    image = xaikit.load_image(tiny_image, model)
    for class_index in range(model.num_classes):
        exp = xaikit.explain("gradcam", model=model, image=image, class_index=class_index,
                             variant="nnc")
        layer = exp.metadata["layer"]
        assert layer == "@MainRuntime/Convolution_out"  # 8x8, as the input: no resizing
        ours = exp.attribution[0]
        np.testing.assert_allclose((ours - ours.min()) / (ours.max() - ours.min()),
                                   nnc_gradcam(tiny_nnp, image, class_index, layer), atol=1e-5)


def test_the_default_layer_is_the_last_convolution(tmp_path):
    def two_convolutions(x):
        import nnabla.parametric_functions as PF

        h = F.relu(PF.convolution(x, 3, (3, 3), name="c1"))
        return tiny_cnn(F.max_pooling(h, (2, 2)), 2)

    model = xaikit.load_model(two_convolutions, input_shape=(1, 10, 10))
    exp = xaikit.explain("gradcam", model=model, image=np.ones((1, 10, 10), np.float32))
    assert exp.metadata["layer"] == "Convolution_2"
    demo = xaikit.explain("gradcam", model=DEMO / "digits.nnp",
                          image=DEMO / "images" / "digit_3.png", class_index=3)
    assert demo.metadata["layer"] == "@MainRuntime/Convolution_out_1"


def test_a_layer_that_is_not_a_feature_map_is_refused_with_the_candidates(tiny_nnp, tiny_image):
    candidates = "candidates: @MainRuntime/Convolution_out, @MainRuntime/ReLU_out"
    with pytest.raises(xaikit.ParameterError) as err:
        xaikit.explain("gradcam", model=tiny_nnp, image=tiny_image, layer="conv9")
    assert str(err.value) == f"layer: no variable named 'conv9'; {candidates}"
    with pytest.raises(xaikit.ParameterError) as err:
        xaikit.explain("gradcam", model=tiny_nnp, image=tiny_image,
                       layer="@MainRuntime/Affine_out")
    assert str(err.value) == ("layer: '@MainRuntime/Affine_out' has shape (3,), not "
                              f"(channels, height, width); {candidates}")
    result = run_cli(["run", "gradcam", "-m", tiny_nnp, "-i", tiny_image, "--layer", "conv9"])
    assert result.exit_code == 1
    assert result.stderr == f"error: --layer: no variable named 'conv9'; {candidates}\n"


def test_a_network_without_convolution_needs_a_layer(tiny_image):
    def linear(x):
        return F.affine(x, nn.Variable.from_numpy_array(np.ones((64, 2), np.float32)))

    model = xaikit.load_model(linear, input_shape=(1, 8, 8))
    with pytest.raises(xaikit.ParameterError, match=r"^layer: linear has no convolution; name a "
                       r"feature map with --layer; candidates: none$"):
        xaikit.explain("gradcam", model=model, image=tiny_image)


def test_explain_batch_shares_one_pass_and_matches_explain(tiny_model):
    gradcam = xaikit_gradcam.GradCAM()
    params = gradcam.Params()
    images = np.random.default_rng(0).random((3,) + tiny_model.input_shape, dtype=np.float32)
    together = gradcam.explain_batch(tiny_model, images, [2, 0, 1], params)
    for i, c in enumerate([2, 0, 1]):
        alone = gradcam.explain(tiny_model, images[i], c, params)
        np.testing.assert_allclose(together[i].values, alone.values, rtol=1e-5, atol=1e-9)


def test_rgb_maps_are_the_same_on_every_channel(tmp_path):
    from xaikit.testing import make_image, make_nnp

    model = make_nnp(tmp_path / "rgb.nnp", channels=3, size=(6, 10), num_classes=4)
    exp = xaikit.explain("gradcam", model=model, image=make_image(tmp_path / "rgb.png",
                         mode="RGB"), class_index=1)
    assert exp.attribution.shape == (3, 6, 10) and (exp.attribution >= 0).all()
    assert (exp.attribution == exp.attribution[:1]).all()


def test_every_sink_writes_the_map(tiny_nnp, tiny_image, tmp_path):
    exp = xaikit.explain("gradcam", model=tiny_nnp, image=tiny_image, class_index=1)
    written = xaikit.write_outputs(exp, tmp_path / "map.png", sinks=xaikit.sinks())
    assert [f.sink for f in written] == xaikit.sinks()
    for f in written:
        assert f.path.stat().st_size > 0, f.sink


def test_removing_the_top_pixels_of_the_demo_map_lowers_the_score_most():
    model = xaikit.load_model(DEMO / "digits.nnp")
    rng = np.random.default_rng(0)
    top_drop, random_drop = [], []
    for digit in range(10):
        exp = xaikit.explain("gradcam", model=model, class_index=digit,
                             image=DEMO / "images" / f"digit_{digit}.png")
        k = exp.input.size // 4
        top = np.argsort(exp.attribution[0].ravel())[-k:]
        chosen = rng.choice(exp.input.size, k, replace=False)
        inputs = np.stack([exp.input] * 3).reshape(3, -1)
        inputs[1, top] = inputs[2, chosen] = 0.0
        score = model.predict(inputs.reshape((3,) + model.input_shape))[:, digit]
        top_drop.append(score[0] - score[1])
        random_drop.append(score[0] - score[2])
    assert np.mean(top_drop) > np.mean(random_drop) + 0.15


def test_a_second_gradcam_is_refused_naming_both_plugins(tiny_nnp, tiny_image):
    class Copy:
        @xaikit.hookimpl
        def register_explainers(self, register):
            register(xaikit_gradcam.GradCAM())

    name = xaikit.register_plugin(Copy(), name="copy", package="gradcam-copy")
    try:
        message = ("explainer name 'gradcam' is registered twice: by plugin 'gradcam' from "
                   "xaikit-gradcam and by plugin 'copy' from gradcam-copy")
        with pytest.warns(xaikit.PluginWarning, match=re.escape(message)):
            assert "smoothgrad" in xaikit.explainers()
        with pytest.raises(xaikit.PluginError, match=re.escape(message)):
            xaikit.explain("gradcam", model=tiny_nnp, image=tiny_image)
        assert xaikit.explain("smoothgrad", model=tiny_nnp, image=tiny_image,
                              num_samples=2).attribution.shape == (1, 8, 8)
    finally:
        xaikit.unregister_plugin(name)


def test_smoothed_over_noisy_copies_the_seeded_map_repeats_and_differs_from_plain(tmp_path):
    demo = ["-m", DEMO / "digits.nnp", "-i", DEMO / "images" / "digit_3.png", "-c", "3"]
    smoothed = ["--smooth-samples", "8", "--seed", "0"]
    for out, options in [("a.npy", smoothed), ("b.npy", smoothed), ("plain.npy", [])]:
        result = run_cli(["run", "gradcam", *demo, *options, "-o", tmp_path / out])
        assert result.exit_code == 0, result.output
    a, b, plain = (np.load(tmp_path / out) for out in ("a.npy", "b.npy", "plain.npy"))
    assert np.array_equal(a, b)
    assert a.shape == plain.shape == (1, 28, 28) and not np.allclose(a, plain, rtol=0.05)
    # The mean of the Grad-CAM maps of the seeded noisy copies, each explained alone.
    model = xaikit.load_model(DEMO / "digits.nnp")
    image = xaikit.load_image(DEMO / "images" / "digit_3.png", model)
    copies = xaikit.Smoothing(8, seed=0).copies(image, seed=0)
    maps = [xaikit.explain("gradcam", model=model, image=c, class_index=3).attribution
            for c in copies]
    np.testing.assert_allclose(a, np.mean(maps, axis=0), rtol=1e-4, atol=1e-6)
