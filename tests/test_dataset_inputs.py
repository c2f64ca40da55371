"""Dataset runs on a folder of images, and the class of each row: label, predicted, fixed."""

import csv
import json

import numpy as np
import pytest

import xaikit
from xaikit.datasets.nnc_csv import read_dataset_csv
from xaikit.testing import make_dataset_csv, make_image, run_cli


def table(path):
    return list(csv.reader(open(path, encoding="utf-8")))


@pytest.fixture
def folder(tmp_path):
    """Images in nested folders, names that sort differently as strings and numbers, and
    files that are not images."""
    root = tmp_path / "photos"
    for name in ["b/2.png", "b/10.png", "a/deep/er/1.jpg", "c.bmp", "top.PNG"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        make_image(root / name, seed=len(name))
    (root / "notes.txt").write_text("not an image")
    (root / "a" / "labels.csv").write_text("x:image\n")
    return root


EXPECTED = ["./photos/a/deep/er/1.jpg", "./photos/b/10.png", "./photos/b/2.png",
            "./photos/c.bmp", "./photos/top.PNG"]


def test_a_folder_is_a_dataset_of_its_images_and_the_csv_an_nnc_dataset(
        models, folder, tmp_path):
    out = tmp_path / "sg.csv"
    result = run_cli(["run", "smoothgrad", "-m", models["grey"], "-i", folder, "-o", out,
                      "-n", "2"])
    assert result.exit_code == 0, result.stderr
    rows = table(out)
    assert rows[0] == ["SmoothGrad", "x:image", "class:explained", "score:model output",
                       "samples:noisy copies", "stability:split-half"]
    assert [r[1] for r in rows[1:]] == EXPECTED
    assert [r[0] for r in rows[1:]] == [f"sg/0000/{i}.png" for i in range(5)]
    again = read_dataset_csv(out, "x", "class")  # paths relative to the CSV, labels
    assert [again.image_path(i).resolve() for i in range(5)] == [
        (tmp_path / cell).resolve() for cell in EXPECTED]
    model = xaikit.load_model(models["grey"])
    for row in rows[1:]:  # a folder has no labels: each image's predicted class
        scores = model.predict(xaikit.load_image(tmp_path / row[1], model)[None])[0]
        assert int(row[2]) == int(np.argmax(scores))
        assert float(row[3]) == pytest.approx(float(scores.max()), rel=1e-5)


def test_the_maps_of_a_run_inside_its_folder_are_not_images_of_the_next_run(
        models, folder):
    out = folder / "sg.csv"
    first = xaikit.explain_dataset("smoothgrad", model=models["grey"], input=folder,
                                   output=out, progress=False, num_samples=2)
    second = xaikit.explain_dataset("smoothgrad", model=models["grey"], input=folder,
                                    output=out, progress=False, num_samples=2)
    assert (first.explained, second.reused, second.explained) == (5, 5, 0)
    assert [r[1] for r in table(out)[1:]] == [cell.replace("./photos/", "./")
                                              for cell in EXPECTED]


def test_a_folder_without_images_and_labels_for_a_folder_are_one_line(models, tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "a.txt").write_text("text")
    result = run_cli(["run", "smoothgrad", "-m", models["grey"], "-i", tmp_path / "empty",
                      "-o", tmp_path / "out.csv"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --input: {tmp_path / 'empty'}: no image files "
                                    "under the folder (formats: ")
    assert result.stderr.count("\n") == 1
    make_image(tmp_path / "empty" / "a.png")
    with pytest.raises(xaikit.ParameterError, match="^class_index: a folder has no labels"):
        xaikit.explain_dataset("smoothgrad", model=models["grey"], input=tmp_path / "empty",
                               output=tmp_path / "out.csv", class_index="label")


@pytest.fixture
def dataset(tmp_path):
    return make_dataset_csv(tmp_path / "data" / "d.csv", rows=12)


def classes_and_scores(out):
    rows = table(out)
    assert rows[0][-4:-2] == ["class:explained", "score:model output"]
    return [int(r[-4]) for r in rows[1:]], [float(r[-3]) for r in rows[1:]]


def test_predicted_and_fixed_classes_on_a_dataset(models, dataset, tmp_path):
    model = xaikit.load_model(models["grey"])
    pixels = np.stack([xaikit.load_image(read_dataset_csv(dataset).image_path(i), model)
                       for i in range(12)])
    scores = model.predict(pixels)
    for given, expected in [("predicted", list(np.argmax(scores, axis=1))), ("2", [2] * 12)]:
        out = tmp_path / f"{given}.csv"
        result = run_cli(["run", "smoothgrad", "-m", models["grey"], "-i", dataset,
                          "-o", out, "-c", given, "--sink", "npy", "-n", "4", "--seed", "0"])
        assert result.exit_code == 0, result.stderr
        classes, written = classes_and_scores(out)
        assert classes == [int(c) for c in expected]
        assert written == pytest.approx([float(scores[i, c]) for i, c in enumerate(classes)],
                                        rel=1e-5)
        for row in (0, 7):  # each row's map is its class's, as a single-image run makes it
            alone = xaikit.explain("smoothgrad", model=model, image=pixels[row],
                                   class_index=classes[row], num_samples=4, seed=0)
            saved = np.load(tmp_path / given / f"0000/{row}.npy")
            np.testing.assert_allclose(saved, alone.attribution, rtol=1e-5, atol=1e-12)
    label_classes, _ = classes_and_scores(_run(models, dataset, tmp_path / "label.csv"))
    assert label_classes == [i % 3 for i in range(12)]  # the labels, as by default


def _run(models, dataset, out, **options):
    result = xaikit.explain_dataset("smoothgrad", model=models["grey"], input=dataset,
                                    output=out, progress=False, num_samples=2, **options)
    assert result.ok
    return out


def test_another_choice_of_classes_redoes_the_maps_and_says_so(models, dataset, tmp_path):
    out = tmp_path / "out.csv"
    notes = []
    for choice in (None, None, 1, 1, "predicted", "predicted", None):
        result = xaikit.explain_dataset("smoothgrad", model=models["grey"], input=dataset,
                                        output=out, progress=False, num_samples=2,
                                        class_index=choice)
        notes.append((result.explained, result.reused))
    assert notes == [(12, 0), (0, 12), (12, 0), (0, 12), (12, 0), (0, 12), (12, 0)]
    settings = json.loads(out.with_suffix(".manifest.jsonl").read_text().splitlines()[0])
    assert "classes" not in settings  # label runs keep the manifests of earlier versions
