"""ONNX models through nnabla's importer: scores, gradients and maps against numpy, every
batch shape, preprocessing, and each refusal's one line."""

import sys
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import xaikit
from xaikit.engine.noise import host_copies
from xaikit.run.images import load_image
from xaikit.testing import make_image, make_onnx, run_cli

VARIANTS = {
    "fixed": {},
    "dynamic": {"batch": None},
    "reshape": {"flatten": "reshape"},
    "computed": {"flatten": "computed", "batch": None},
    "nhwc": {"layout": "nhwc"},
    "nhwc-dynamic": {"layout": "nhwc", "batch": None, "flatten": "computed"},
}


def options(variant):
    return {"layout": "nhwc"} if "nhwc" in variant else {}


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    files = {name: make_onnx(d / f"{name}.onnx", output="logits", **kw)
             for name, kw in VARIANTS.items()}
    files["softmax"] = make_onnx(d / "softmax.onnx", output="softmax")
    files["sigmoid"] = make_onnx(d / "sigmoid.onnx", output="sigmoid", num_classes=1)
    return files


def weights(path):
    return {t.name: numpy_helper.to_array(t).astype(np.float64)
            for t in onnx.load(str(path)).graph.initializer}


def windows(x, k, pad):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))


def numpy_logits(path, x):
    """make_onnx's network in float64 numpy, from (n, C, H, W) whatever the layout."""
    w = weights(path)
    conv = lambda h, name: (np.einsum("nchwij,ocij->nohw", windows(h, 3, 1), w[name + "_w"])  # noqa: E731
                            + w[name + "_b"][:, None, None])
    channel = lambda v: v[:, None, None]  # noqa: E731
    h = conv(np.asarray(x, np.float64), "conv1")
    h = (h - channel(w["bn_mean"])) / np.sqrt(channel(w["bn_var"]) + 1e-5)
    h = np.maximum(h * channel(w["bn_scale"]) + channel(w["bn_bias"]), 0)
    n, c, height, width = h.shape
    pool1 = h.reshape(n, c, height // 2, 2, width // 2, 2).max(axis=(3, 5))
    pool2 = windows(np.maximum(conv(pool1, "conv2"), 0), 3, 1).mean(axis=(4, 5))
    features = (pool2 + pool1).mean(axis=(2, 3))
    return features @ w["fc_w"].T + w["fc_b"]


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def inputs(model, n=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n,) + model.input_shape).astype(np.float32)


@pytest.mark.parametrize("variant", VARIANTS)
def test_scores_match_a_numpy_forward_pass_at_every_batch_size(onnx_files, variant):
    model = xaikit.load_model(onnx_files[variant], **options(variant))
    assert model.input_shape == (3, 8, 8) and model.num_classes == 3
    assert model.notes == ()
    x = inputs(model, 5)
    expected = numpy_logits(onnx_files[variant], x)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict(x[:1]), expected[:1], rtol=1e-5, atol=1e-5)


def test_softmax_and_sigmoid_outputs_have_their_input_as_logit(onnx_files):
    probabilities = xaikit.load_model(onnx_files["softmax"])
    x = inputs(probabilities)
    np.testing.assert_allclose(probabilities.predict(x),
                               softmax(numpy_logits(onnx_files["softmax"], x)), rtol=1e-4)
    assert probabilities.logit == "logits"
    assert xaikit.load_model(onnx_files["sigmoid"]).logit == "logits"
    assert xaikit.load_model(onnx_files["fixed"]).logit is None


@pytest.mark.parametrize("variant", ["fixed", "nhwc-dynamic"])
def test_input_gradients_match_finite_differences(onnx_files, variant):
    model = xaikit.load_model(onnx_files[variant], **options(variant))
    x = inputs(model, 1, seed=1)[0].astype(np.float64)
    grads = xaikit.input_gradients(model, x[None].astype(np.float32), 2)[0]
    eps = 1e-5
    numeric = np.empty_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (numpy_logits(onnx_files[variant], np.stack([up, down]))[:, 2]
                      @ [1, -1]) / (2 * eps)
    assert np.abs(numeric).max() > 0
    np.testing.assert_allclose(grads, numeric, rtol=1e-3, atol=1e-4 * np.abs(numeric).max())


def reference_smoothgrad(model, image, class_index, noise_level, num_samples, seed, score):
    """The tests' loop: one noisy copy per pass, at batch size 1."""
    grads = [xaikit.input_gradients(model, copy[None], class_index, score=score)[0]
             for copy in host_copies(image, noise_level, seed, num_samples)]
    return np.mean(np.square(np.array(grads, np.float64)), axis=0)


@pytest.mark.parametrize("variant", ["fixed", "dynamic", "nhwc", "softmax"])
@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_smoothgrad_equals_the_reference_loop(onnx_files, variant, batch_size):
    model = xaikit.load_model(onnx_files[variant], **options(variant))
    image = inputs(model, 1, seed=2)[0]
    score = "logit" if variant == "softmax" else "output"
    exp = xaikit.explain("smoothgrad", model=model, image=image, class_index=1,
                         noise_level=0.2, num_samples=7, seed=5, batch_size=batch_size,
                         score=score)
    expected = reference_smoothgrad(model, image, 1, 0.2, 7, 5, score)
    assert expected.max() > 0
    np.testing.assert_allclose(exp.attribution, expected, rtol=1e-4, atol=1e-9 * expected.max())


def test_default_batches_equal_batch_one(onnx_files):
    model = xaikit.load_model(onnx_files["fixed"])
    image = inputs(model, 1, seed=3)[0]
    run = lambda **kw: xaikit.explain("smoothgrad", model=model, image=image,  # noqa: E731
                                      class_index=0, num_samples=40, seed=0, **kw).attribution
    np.testing.assert_allclose(run(), run(batch_size=1, threads=1), rtol=1e-5)


def test_logit_score_of_a_softmax_model_is_the_logits_models_output(onnx_files):
    image = inputs(xaikit.load_model(onnx_files["fixed"]), 1, seed=4)[0]
    maps = [xaikit.explain("smoothgrad", model=onnx_files[name], image=image, class_index=2,
                           num_samples=9, seed=1, score=score).attribution
            for name, score in (("softmax", "logit"), ("fixed", "output"), ("softmax", "output"))]
    np.testing.assert_allclose(maps[0], maps[1], rtol=1e-5)
    assert not np.allclose(maps[0], maps[2])


def test_preprocessing_scale_mean_std_and_channel_order(onnx_files, tmp_path):
    picture = make_image(tmp_path / "rgb.png", size=(8, 8), mode="RGB")
    pixels = np.asarray(xaikit.run.images.read_image(picture), np.float64).transpose(2, 0, 1)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    model = xaikit.load_model(onnx_files["fixed"], mean=mean.tolist(), std="0.229,0.224,0.225")
    expected = (pixels / 255 - mean[:, None, None]) / std[:, None, None]
    np.testing.assert_allclose(load_image(picture, model), expected, rtol=1e-6)
    bgr = xaikit.load_model(onnx_files["fixed"], channel_order="bgr", scale=1.0, mean=100)
    np.testing.assert_allclose(load_image(picture, bgr), pixels[::-1] - 100, rtol=1e-6)


def test_an_nnp_imported_from_onnx_runs_batched_with_or_without_its_executor(onnx_files,
                                                                             tmp_path):
    from nnabla.utils.converter.nnabla import NnpExporter
    from nnabla.utils.converter.onnx import OnnxImporter

    path = tmp_path / "imported.nnp"  # what NNC users who import ONNX get: batch 1 baked in
    NnpExporter(OnnxImporter(str(onnx_files["reshape"])).execute(), 1).execute(str(path))
    lone = tmp_path / "lone.nnp"
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(lone, "w") as out:
        for info in z.infolist():
            data = z.read(info)
            if info.filename.endswith(".nntxt"):
                text = data.decode()
                data = text[:text.index("executor {")].encode()
            out.writestr(info.filename, data)
    for nnp in (path, lone):
        model = xaikit.load_model(nnp)
        x = inputs(model, 4)
        np.testing.assert_allclose(model.predict(x), numpy_logits(onnx_files["reshape"], x),
                                   rtol=1e-5, atol=1e-5)
    assert xaikit.load_model(lone).notes == (
        "lone.nnp has no executor; explaining network 'tiny_residual_cnn' from 'x' to 'y'",)


def save(path, nodes, inputs, outputs, inits=(), check=True):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def tensor(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_a_network_that_folds_the_batch_away_runs_one_network_per_row(tmp_path):
    w = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    path = save(tmp_path / "folded.onnx", [
        helper.make_node("Reshape", ["x", "rows"], ["flat"]),  # (1, 3, 4, 4) -> (3, 16)
        helper.make_node("ReduceMean", ["flat"], ["means"], axes=[1], keepdims=0),
        helper.make_node("Reshape", ["means", "one_row"], ["features"]),
        helper.make_node("Gemm", ["features", "w"], ["y"], transB=1),
    ], [tensor("x", [1, 3, 4, 4])], [tensor("y", [1, 2])], [
        numpy_helper.from_array(np.array([3, 16], np.int64), "rows"),
        numpy_helper.from_array(np.array([1, 3], np.int64), "one_row"),
        numpy_helper.from_array(w, "w")])
    model = xaikit.load_model(path)
    assert len(model.notes) == 1 and "each noisy copy runs through a batch-1 network" in \
        model.notes[0]
    x = inputs(model, 3)
    np.testing.assert_allclose(model.predict(x), x.mean(axis=(2, 3)) @ w.T, rtol=1e-5)
    run = lambda **kw: xaikit.explain("smoothgrad", model=model, image=x[0], class_index=1,  # noqa: E731
                                      num_samples=6, seed=0, **kw).attribution
    np.testing.assert_allclose(run(batch_size=6), run(batch_size=1), rtol=1e-5)


def refused(path, message, **kw):
    with pytest.raises(xaikit.XaikitError) as err:
        xaikit.load_model(path, **kw)
    assert "\n" not in str(err.value)
    assert message in str(err.value), str(err.value)


def test_an_operator_the_importer_lacks_is_named(tmp_path):
    path = save(tmp_path / "roi.onnx", [
        helper.make_node("RoiAlign", ["x", "rois", "index"], ["y"])],
        [tensor("x", [1, 3, 4, 4])], [tensor("y", [1, 3, 2, 2])], [
        numpy_helper.from_array(np.zeros((1, 4), np.float32), "rois"),
        numpy_helper.from_array(np.zeros(1, np.int64), "index")], check=False)
    refused(path, "roi.onnx: nnabla's ONNX importer has no conversion for RoiAlign (opset 13)")


def test_non_image_inputs_are_refused(tmp_path):
    w = numpy_helper.from_array(np.ones((2, 10), np.float32), "w")
    vector = save(tmp_path / "vector.onnx", [helper.make_node("Gemm", ["x", "w"], ["y"],
                                                              transB=1)],
                  [tensor("x", [1, 10])], [tensor("y", [1, 2])], [w])
    refused(vector, "input 'x' is not an image: a 2-d float tensor [1, 10]")
    sized = make_onnx(tmp_path / "any_size.onnx")
    model = onnx.load(str(sized))
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    onnx.save(model, str(sized))
    refused(sized, "has shape [1, 3, ?, 8]: only the batch size may be dynamic")
    refused(make_onnx(tmp_path / "nhwc.onnx", layout="nhwc"),
            "it looks like a TensorFlow (NHWC) model: --onnx-layout nhwc")


def test_several_inputs_and_outputs_need_a_choice(tmp_path):
    path = make_onnx(tmp_path / "two.onnx")
    model = onnx.load(str(path))
    model.graph.input.append(tensor("mask", [1, 3]))
    model.graph.node.append(helper.make_node("Mul", ["y", "mask"], ["masked"]))
    model.graph.output.append(tensor("masked", [1, 3]))
    model.graph.output.append(tensor("logits", [1, 3]))
    onnx.save(model, str(path))
    refused(path, "the graph has inputs x, mask; choose the image with --onnx-input NAME")
    refused(path, "output 'masked' needs input 'mask' too", input="x", output="masked")
    refused(path, "no graph output named 'nope' (its outputs: y, masked, logits)", input="x",
            output="nope")
    logits = xaikit.load_model(path, input="x", output="logits")
    assert logits.logit is None and logits.num_classes == 3
    assert xaikit.load_model(path, input="x").logit == "logits"


def test_bad_files_and_options_are_refused(tmp_path, onnx_files):
    (tmp_path / "text.onnx").write_text("not a model")
    refused(tmp_path / "text.onnx", "text.onnx: not an ONNX model")
    refused(tmp_path / "missing.onnx", "missing.onnx: no such model file")
    refused(onnx_files["fixed"], "mean: 2 values for a 3-channel input", mean=[0.1, 0.2])
    refused(onnx_files["fixed"], "std: a channel's std is 0", std=0)
    refused(onnx_files["fixed"], "mean.1: Input should be a valid number", mean="0.5,b")
    refused(onnx_files["fixed"], "layout: Input should be 'nchw' or 'nhwc'", layout="hwc")
    refused(onnx_files["fixed"], "colour: unknown parameter", colour="rgb")


def test_without_the_importer_the_error_says_what_to_install(onnx_files, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    refused(onnx_files["fixed"], "reading .onnx files needs onnx and nnabla's ONNX importer: "
            "pip install 'xaikit[onnx]' && pip install --no-deps nnabla-converter==1.39.0")


def test_cli_options_carry_the_adapters_prefix(onnx_files, tmp_path):
    picture = make_image(tmp_path / "rgb.png", size=(8, 8), mode="RGB")
    out = tmp_path / "map.npy"
    result = run_cli(["run", "smoothgrad", "-m", str(onnx_files["nhwc"]), "-i", str(picture),
                      "-c", "1", "--onnx-layout", "nhwc", "--onnx-mean", "0.485,0.456,0.406",
                      "--onnx-std", "0.229,0.224,0.225", "-n", "5", "--seed", "0",
                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    model = xaikit.load_model(onnx_files["nhwc"], layout="nhwc", mean=[0.485, 0.456, 0.406],
                              std=[0.229, 0.224, 0.225])
    expected = xaikit.explain("smoothgrad", model=model, image=picture, class_index=1,
                              num_samples=5, seed=0).attribution
    np.testing.assert_array_equal(np.load(out), expected)

    bad = run_cli(["run", "smoothgrad", "-m", str(onnx_files["fixed"]), "-i", str(picture),
                   "--onnx-mean", "0.1,x", "-o", str(out)])
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines() == [
        "error: --onnx-mean.1: Input should be a valid number, unable to parse string as a "
        "number (got 'x')"]


def test_cli_refuses_one_adapters_options_for_another_adapters_model(models, images, tmp_path):
    result = run_cli(["run", "smoothgrad", "-m", str(models["grey"]), "-i", str(images["grey"]),
                      "--onnx-mean", "0.5", "-o", str(tmp_path / "map.png")])
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: --onnx-mean: {models['grey']} is read by the nnp "
                                     "adapter, not by onnx")


def test_dataset_runs_take_the_options_and_redo_maps_when_they_change(onnx_files, tmp_path):
    from xaikit.testing import make_dataset_csv

    data = make_dataset_csv(tmp_path / "data" / "validation.csv", rows=3, mode="RGB")
    out = tmp_path / "out.csv"
    args = ["run", "smoothgrad", "-m", str(onnx_files["dynamic"]), "-i", str(data), "-o",
            str(out), "-n", "2", "--seed", "0", "--onnx-mean"]
    first = run_cli(args + ["0.5"])
    assert first.exit_code == 0, first.output
    again = xaikit.explain_dataset("smoothgrad", model=xaikit.load_model(
        onnx_files["dynamic"], mean=0.5), input=data, output=out, num_samples=2, seed=0,
        progress=False)
    assert (again.explained, again.reused) == (0, 3)
    other = xaikit.explain_dataset("smoothgrad", model=xaikit.load_model(
        onnx_files["dynamic"], mean=0.4), input=data, output=out, num_samples=2, seed=0,
        progress=False)
    assert (other.explained, other.reused) == (3, 0)
