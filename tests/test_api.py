import numpy as np
import pytest
from PIL import Image

import xaikit
from xaikit.builtins.sinks.grey import grey_map
from xaikit.engine.backend import F
from xaikit.run.images import load_image
from xaikit.testing import make_nnp, tiny_cnn


def test_explainers_lists_smoothgrad():
    assert "smoothgrad" in xaikit.explainers()


def test_explain_returns_attribution_of_the_input_shape(models, images):
    exp = xaikit.explain("smoothgrad", model=str(models["rgb"]), image=str(images["rgb"]),
                         class_index=3, num_samples=4, seed=0)
    assert exp.attribution.shape == (3, 6, 10)
    assert exp.attribution.dtype == np.float32
    assert exp.input.shape == (3, 6, 10)
    assert exp.class_index == 3 and exp.explainer == "smoothgrad" and exp.model == "rgb.nnp"
    assert exp.params == {"noise_level": 0.15, "num_samples": 4, "variant": "smoothgrad_sq",
                          "score": "output", "seed": 0, "batch_size": None, "threads": None,
                          "device": "cpu", "device_id": 0, "stability": 0.95,
                          "max_samples": 1000, "layer_index": 0}


def test_repr_is_one_short_line_without_the_arrays(models, images):
    exp = xaikit.explain("smoothgrad", model=models["rgb"], image=images["rgb"], class_index=3,
                         num_samples=2, seed=0, labels=["a", "b", "c", "d"])
    assert repr(exp) == (f"Explanation('smoothgrad', model='rgb.nnp', class_index=3 ('d'), "
                         f"score={exp.score:.4g}, attribution=float32[3x6x10])")
    big = xaikit.Explanation(attribution=np.ones((3, 224, 224), np.float32),
                             input=np.ones((3, 224, 224), np.float32), class_index=0,
                             explainer="e", params={}, model="m")
    assert repr(big) == "Explanation('e', model='m', class_index=0, attribution=float32[3x224x224])"


def test_image_as_path_pil_and_array_give_the_same_map(models, images):
    model = xaikit.load_model(models["rgb"])
    pil = Image.open(images["rgb"])
    run = lambda image: xaikit.explain("smoothgrad", model=model, image=image,  # noqa: E731
                                       class_index=1, num_samples=3, seed=1).attribution
    from_path = run(images["rgb"])
    assert np.array_equal(from_path, run(pil))
    assert np.array_equal(from_path, run(np.asarray(pil)))
    assert np.array_equal(from_path, run(load_image(images["rgb"], model)))


def test_save_writes_the_grey_png_selected_by_extension(models, images, tmp_path):
    exp = xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                         class_index=1, num_samples=3, seed=0)
    out = exp.save(tmp_path / "sub" / "map.png")
    written = np.asarray(Image.open(out))
    assert Image.open(out).mode == "L"
    assert np.array_equal(written, grey_map(exp.attribution))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["map.png"]


def test_two_different_nnp_files_in_one_process(tmp_path, images):
    # Same parameter names (conv/conv/W...), different shapes: clash in nnabla's global registry.
    a = xaikit.load_model(make_nnp(tmp_path / "a.nnp", channels=1, num_classes=3, seed=1))
    b = xaikit.load_model(make_nnp(tmp_path / "b.nnp", channels=3, num_classes=5, seed=2))
    exp_a = xaikit.explain("smoothgrad", model=a, image=images["grey"], class_index=2, seed=0)
    exp_b = xaikit.explain("smoothgrad", model=b, image=images["rgb"], class_index=4, seed=0)
    again_a = xaikit.explain("smoothgrad", model=a, image=images["grey"], class_index=2, seed=0)
    assert exp_a.attribution.shape == (1, 8, 8) and exp_b.attribution.shape == (3, 8, 8)
    assert np.array_equal(exp_a.attribution, again_a.attribution)
    fresh_a = xaikit.explain("smoothgrad", model=tmp_path / "a.nnp", image=images["grey"],
                             class_index=2, seed=0)
    assert np.array_equal(exp_a.attribution, fresh_a.attribution)


def test_no_image_normalization_keeps_pixels_in_0_255(models, images):
    raw = xaikit.load_model(models["raw"])
    grey = xaikit.load_model(models["grey"])
    assert raw.no_image_normalization and not grey.no_image_normalization
    pixels = np.asarray(Image.open(images["grey"]), dtype=np.float32)
    np.testing.assert_array_equal(load_image(images["grey"], raw)[0], pixels)
    np.testing.assert_allclose(load_image(images["grey"], grey)[0], pixels / 255, rtol=1e-6)


def test_images_are_resized_and_converted_to_the_model_input(models, images):
    rgb = xaikit.load_model(models["rgb"])
    grey = xaikit.load_model(models["grey"])
    assert load_image(images["grey"], rgb).shape == (3, 6, 10)  # grey file, RGB model
    assert load_image(images["rgb"], grey).shape == (1, 8, 8)  # RGB file, grey model


def test_model_built_in_python_is_explained(images):
    def network(x):
        return F.softmax(tiny_cnn(x, 2))

    model = xaikit.load_model(network, input_shape=(1, 8, 8))
    assert model.num_classes == 2
    exp = xaikit.explain("smoothgrad", model=model, image=images["grey"], class_index=1, seed=0)
    assert exp.attribution.shape == (1, 8, 8) and exp.attribution.max() > 0


@pytest.mark.parametrize("kwargs,message", [
    ({"noise_level": 1.5}, "noise_level: Input should be less than or equal to 1"),
    ({"noise_level": -0.1}, "noise_level: Input should be greater than or equal to 0"),
    ({"noise_level": float("nan")}, "noise_level: Input should be a finite number"),
    ({"num_samples": 0}, "num_samples: Input should be greater than or equal to 1"),
    ({"num_samples": 2.5}, "num_samples: Input should be a valid integer"),
    ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
    ({"batch_size": 0}, "batch_size: Input should be greater than or equal to 1"),
    ({"colour": "red"}, "colour: unknown parameter"),
    ({"class_index": -1}, "class_index: Input should be greater than or equal to 0"),
    ({"class_index": 3}, "class_index: 3 is past the output width of grey.nnp (3 classes"),
])
def test_bad_parameters_raise_parameter_error(models, images, kwargs, message):
    args = {"model": models["grey"], "image": images["grey"], **kwargs}
    with pytest.raises(xaikit.ParameterError) as err:
        xaikit.explain("smoothgrad", **args)
    assert message in str(err.value)


def test_bounds_just_inside_are_accepted(models, images):
    for kwargs in ({"noise_level": 0.0}, {"noise_level": 1.0}, {"num_samples": 1},
                   {"class_index": 2}, {"seed": 0}, {"batch_size": 1}):
        args = {"model": models["grey"], "image": images["grey"], **kwargs}
        assert xaikit.explain("smoothgrad", **args).attribution.shape == (1, 8, 8)


def test_bad_files_raise_typed_errors(models, images, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(xaikit.ImageError, match="image: .*no such file"):
        xaikit.explain("smoothgrad", model=models["grey"], image=tmp_path / "missing.png")
    with pytest.raises(xaikit.ImageError, match="image: .*notes.png: not an image file"):
        xaikit.explain("smoothgrad", model=models["grey"], image=text)
    with pytest.raises(xaikit.ModelError, match="model: .*not an .nnp file"):
        xaikit.explain("smoothgrad", model=images["grey"], image=images["grey"])
    with pytest.raises(xaikit.PluginError, match="no explainer named 'nope'"):
        xaikit.explain("nope", model=models["grey"], image=images["grey"])


def test_a_python_network_names_its_layers_as_nnc_does():
    def two_convolutions(x):
        import nnabla.parametric_functions as PF

        return tiny_cnn(F.relu(PF.convolution(x, 2, (3, 3), name="first")), 2)

    model = xaikit.load_model(two_convolutions, input_shape=(1, 6, 6))
    assert [tuple(layer) for layer in model.layers] == [
        ("Convolution", "Convolution"), ("ReLU", "ReLU"), ("Convolution_2", "Convolution"),
        ("ReLU_2", "ReLU"), ("Affine", "Affine")]
    variables = model.graph(3).variables
    assert variables["Convolution_2"].shape == (3, 4, 4, 4)
    assert list(variables)[0] == "x" and list(variables)[-1] == "y"


class Reporting(xaikit.Explainer):
    name = "reporting"
    description = "a constant map and a fact about it"

    def explain(self, model, image, class_index, params):
        return xaikit.Attribution(np.ones(model.input_shape), {"class_seen": class_index})


class Plain(xaikit.Explainer):
    name = "plain"
    description = "a constant map, nothing to report"

    def explain(self, model, image, class_index, params):
        return np.ones(model.input_shape)


def test_metadata_returned_by_an_explainer_reaches_the_explanation(models, images):
    from xaikit.plugin.manager import register_plugin, unregister_plugin

    class Plugin:
        @xaikit.hookimpl
        def register_explainers(self, register):
            register(Reporting())
            register(Plain())

    name = register_plugin(Plugin(), name="reporting")
    try:
        exp = xaikit.explain("reporting", model=models["grey"], image=images["grey"],
                             class_index=2)
        plain = xaikit.explain("plain", model=models["grey"], image=images["grey"])
    finally:
        unregister_plugin(name)
    assert exp.reported == {"class_seen": 2}
    assert exp.metadata["class_seen"] == 2 and exp.metadata["class_index"] == 2
    assert exp.attribution.dtype == np.float32 and exp.attribution.shape == (1, 8, 8)
    assert plain.reported == {}
    one = xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                         num_samples=1)
    assert one.reported["samples"] == 1
    assert one.reported["stability"] is None  # one sample has no halves


def test_default_explain_batch_keeps_each_images_metadata(models):
    model = xaikit.load_model(models["grey"])
    images = np.zeros((2,) + model.input_shape, np.float32)
    results = Reporting().explain_batch(model, images, [1, 0], Reporting.Params())
    assert [xaikit.Attribution.of(r).metadata for r in results] == [{"class_seen": 1},
                                                                    {"class_seen": 0}]
    arrays = np.zeros((2, 1, 8, 8), np.float32)
    assert [xaikit.Attribution.of(a).metadata for a in arrays] == [{}, {}]


def test_an_image_that_is_a_folder_is_said_to_be_one(models, tmp_path):
    with pytest.raises(xaikit.ImageError) as error:
        xaikit.explain("smoothgrad", model=models["grey"], image=tmp_path)
    assert str(error.value) == f"image: {tmp_path}: is a folder, not an image file"
