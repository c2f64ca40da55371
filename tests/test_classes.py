"""What a run explains: an index, the predicted class, a list of classes; and class names."""

import numpy as np
import pytest

import xaikit
from xaikit.run.images import load_image


@pytest.fixture(scope="module")
def model(models):
    return xaikit.load_model(models["rgb"])


def scores(model, images):
    return model.predict(load_image(images["rgb"], model)[None])[0]


def test_predicted_is_the_argmax_of_the_model_output(model, images):
    probs = scores(model, images)
    exp = xaikit.explain("smoothgrad", model=model, image=images["rgb"],
                         class_index="predicted", num_samples=3, seed=0)
    assert isinstance(exp, xaikit.Explanation)
    assert exp.class_index == int(np.argmax(probs))
    assert exp.score == pytest.approx(float(probs.max()))
    same = xaikit.explain("smoothgrad", model=model, image=images["rgb"],
                          class_index=int(np.argmax(probs)), num_samples=3, seed=0)
    np.testing.assert_array_equal(exp.attribution, same.attribution)


@pytest.mark.parametrize("digit", [1, 7])
def test_predicted_on_the_demo_digits(digit):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    exp = xaikit.explain("smoothgrad", model=root / "demo/digits.nnp", num_samples=2,
                         image=root / f"demo/images/digit_{digit}.png", class_index="predicted")
    assert exp.class_index == digit and exp.score > 0.5


@pytest.mark.parametrize("target", [[3, 0, 2], (3, 0, 2), "3,0,2", "3, 0, 2"])
def test_a_list_gives_one_explanation_per_class_in_order(model, images, target):
    probs = scores(model, images)
    exps = xaikit.explain("smoothgrad", model=model, image=images["rgb"], class_index=target,
                          num_samples=3, seed=4)
    assert [e.class_index for e in exps] == [3, 0, 2]
    for exp in exps:
        single = xaikit.explain("smoothgrad", model=model, image=images["rgb"],
                                class_index=exp.class_index, num_samples=3, seed=4)
        np.testing.assert_array_equal(exp.attribution, single.attribution)
        assert exp.score == pytest.approx(float(probs[exp.class_index]))
    assert not np.array_equal(exps[0].attribution, exps[1].attribution)


def test_a_list_of_one_is_still_a_list(model, images):
    exps = xaikit.explain("smoothgrad", model=model, image=images["rgb"], class_index=[1],
                          num_samples=2)
    assert isinstance(exps, list) and [e.class_index for e in exps] == [1]


def test_metadata_holds_class_name_and_score(model, images, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_bytes("\ufeffcat\r\ndog\r\nbird\r\nfish\r\n\r\n".encode())  # Windows-written
    exp = xaikit.explain("smoothgrad", model=model, image=images["rgb"], class_index=3,
                         labels=labels, num_samples=2)
    assert exp.metadata == {"class_index": 3, "class_name": "fish", "score": exp.score,
                            **exp.reported}  # and what SmoothGrad reports
    assert exp.reported["method"] == "smoothgrad_sq" and exp.reported["samples"] == 2
    assert isinstance(exp.score, float)
    unnamed = xaikit.explain("smoothgrad", model=model, image=images["rgb"], class_index=3,
                             num_samples=2)
    assert unnamed.metadata["class_name"] is None
    named = xaikit.explain("smoothgrad", model=model, image=images["rgb"], class_index=[0, 2],
                           labels=["w", "x", "y", "z"], num_samples=2)
    assert [e.class_name for e in named] == ["w", "y"]


@pytest.mark.parametrize("content,message", [
    ("a\nb\n", "labels: {path} names 2 classes; the model has 4"),
    ("a\nb\nc\nd\ne\n", "labels: {path} names 5 classes; the model has 4"),
    ("a\n\nc\nd\n", "labels: {path}: line 2 is empty"),
    (None, "labels: {path}: no such file"),
])
def test_bad_labels_files(model, images, tmp_path, content, message):
    path = tmp_path / "labels.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(xaikit.ParameterError) as err:
        xaikit.explain("smoothgrad", model=model, image=images["rgb"], labels=path)
    assert str(err.value) == message.format(path=path)


@pytest.mark.parametrize("target,message", [
    ("best", "class_index: expected a class index, 'predicted' or indices like 3,5,7"),
    ([], "class_index: the list of classes is empty"),
    ([1, -1], "class_index: Input should be greater than or equal to 0"),
    ([1, 4], "class_index: 4 is past the output width of rgb.nnp (4 classes: 0 to 3)"),
    (1.0, "class_index: Input should be a valid integer"),
])
def test_bad_targets_are_one_line_naming_class_index(model, images, target, message):
    with pytest.raises(xaikit.ParameterError) as err:
        xaikit.explain("smoothgrad", model=model, image=images["rgb"], class_index=target)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_numpy_integers_are_class_indices(model, images):
    exp = xaikit.explain("smoothgrad", model=model, image=images["rgb"],
                         class_index=np.int64(2), num_samples=2)
    assert exp.class_index == 2 and type(exp.class_index) is int
