"""Dataset runs through the Python API: NNC's layout, the label's class, failures, resume."""

import csv
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import xaikit
from xaikit.builtins.sinks.grey import grey_map
from xaikit.datasets.layout import map_file
from xaikit.datasets.progress import LogProgress, progress_counter
from xaikit.plugin import manager as plugins
from xaikit.run.images import load_image
from xaikit.testing import make_dataset_csv


class Record(xaikit.Explainer):
    """Records every explain_batch call; stops the run with Ctrl-C when told to."""

    name = "record"
    calls = []
    interrupt_on_call = None

    def explain(self, model, image, class_index, params):
        return np.random.default_rng(class_index).random(model.input_shape, np.float32)

    def explain_batch(self, model, images, class_indices, params):
        if len(Record.calls) + 1 == Record.interrupt_on_call:
            raise KeyboardInterrupt
        Record.calls.append(list(class_indices))
        return super().explain_batch(model, images, class_indices, params)


class Named(Record):
    name = "named"
    nnc_column = "Named Method"


class Refuses(Record):
    """Refuses blank images, as an explainer may refuse an input it cannot explain."""

    name = "refuses"

    def explain(self, model, image, class_index, params):
        if image.max() == image.min():
            raise xaikit.ImageError("image: a blank image has no attribution")
        return super().explain(model, image, class_index, params)


class Explainers:
    @xaikit.hookimpl
    def register_explainers(self, register):
        for explainer in (Record(), Named(), Refuses()):
            register(explainer)


@pytest.fixture(autouse=True)
def explainers():
    name = plugins.register_plugin(Explainers(), name="dataset-test")
    Record.calls, Record.interrupt_on_call = [], None
    yield
    plugins.unregister_plugin(name)


@pytest.fixture
def dataset(tmp_path):
    return make_dataset_csv(tmp_path / "data" / "validation.csv", rows=30)


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def run(explainer, model, input, output, **kwargs):
    return xaikit.explain_dataset(explainer, model=model, input=input, output=output,
                                  progress=False, **kwargs)


def score(model, image, index):
    loaded = xaikit.load_model(model)
    return f"{loaded.predict(load_image(image, loaded)[None])[0, index]:.6g}"


def settling(model, image, index, **params):
    """The samples and stability cells of a row, as one image's run reports them."""
    exp = xaikit.explain("smoothgrad", model=model, image=image, class_index=index, **params)
    return f"{exp.metadata['samples']},{exp.metadata['stability']:.4f}"


def test_output_csv_and_maps_are_laid_out_as_nnc_writes_them(models, dataset, tmp_path):
    out = tmp_path / "results" / "smoothgrad.csv"
    result = run("smoothgrad", models["grey"], dataset, out, num_samples=2, seed=0)
    assert result.ok and result.explained == 30 and result.reused == 0
    # NNC's columns, then the class explained, the model's score for it, and the samples
    # and stability of the map
    images = [dataset.parent / f"images/{i % 3}/{i}.png" for i in range(30)]
    expected = ["SmoothGrad,x:image,y:label,class:explained,score:model output,"
                "samples:noisy copies,stability:split-half"] + [
        f"smoothgrad/0000/{i}.png,./images/{i % 3}/{i}.png,{i % 3},{i % 3},"
        + score(models["grey"], images[i], i % 3) + ","
        + settling(models["grey"], images[i], i % 3, num_samples=2, seed=0)
        for i in range(30)]
    assert out.read_bytes() == ("\n".join(expected) + "\n").encode()
    assert result.maps == [tmp_path / "results" / "smoothgrad" / "0000" / f"{i}.png"
                           for i in range(30)]
    assert all(Image.open(p).mode == "L" and Image.open(p).size == (8, 8) for p in result.maps)
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "smoothgrad", "smoothgrad.csv", "smoothgrad.manifest.jsonl"]


def test_a_thousand_rows_start_the_next_folder(models, tmp_path):
    assert map_file(Path("out/sg.csv"), 1234) == Path("out/sg/0001/1234.png")
    data = make_dataset_csv(tmp_path / "big.csv", rows=1001, size=(2, 2))
    result = run("record", models["grey"], data, tmp_path / "sg.csv")
    assert [r[:3] for r in read(tmp_path / "sg.csv")[-2:]] == [
        ["sg/0000/999.png", "./images/0/999.png", "0"],
        ["sg/0001/1000.png", "./images/1/1000.png", "1"]]
    assert result.maps[1000].is_file()


def test_each_row_explains_its_label_in_chunks_that_share_passes(models, dataset, tmp_path):
    run("record", models["grey"], dataset, tmp_path / "a.csv", chunk_size=8)
    assert [len(call) for call in Record.calls] == [8, 8, 8, 6]
    assert sum(Record.calls, []) == [i % 3 for i in range(30)]


def test_seeded_rows_match_single_image_runs_whatever_the_chunking(models, tmp_path):
    data = make_dataset_csv(tmp_path / "rgb" / "d.csv", rows=6, num_classes=4, mode="RGB",
                            labels="onehot", size=(6, 10))
    a = run("smoothgrad", models["rgb"], data, tmp_path / "a.csv", num_samples=3, seed=5)
    b = run("smoothgrad", models["rgb"], data, tmp_path / "b.csv", num_samples=3, seed=5,
            chunk_size=4)
    for row in range(6):
        single = xaikit.explain("smoothgrad", model=models["rgb"],
                                image=tmp_path / "rgb" / f"images/{row % 4}/{row}.png",
                                class_index=row % 4, num_samples=3, seed=5)
        expected = grey_map(single.attribution)
        assert np.array_equal(np.asarray(Image.open(a.maps[row])), expected)
        assert np.array_equal(np.asarray(Image.open(b.maps[row])), expected)


def test_one_hot_labels_give_their_argmax(models, tmp_path):
    data = make_dataset_csv(tmp_path / "d.csv", rows=8, num_classes=4, labels="onehot",
                            mode="RGB")
    result = run("named", models["rgb"], data, tmp_path / "out.csv")
    assert sum(Record.calls, []) == [i % 4 for i in range(8)]
    assert read(result.output)[0] == ["Named Method", "x:image", "y__0:label 0",
                                      "y__1:label 1", "y__2:label 2", "y__3:label 3",
                                      "class:explained", "score:model output"]
    assert [row[-2] for row in read(result.output)[1:]] == [str(i % 4) for i in range(8)]


def test_binary_one_output_model_explains_class_0(models, tmp_path):
    data = make_dataset_csv(tmp_path / "d.csv", rows=6, num_classes=2)
    result = run("smoothgrad", models["binary"], data, tmp_path / "out.csv", num_samples=2)
    assert result.ok and result.explained == 6
    run("record", models["binary"], data, tmp_path / "rec.csv")
    assert sum(Record.calls, []) == [0] * 6


def test_a_vector_label_of_another_width_gives_class_0_with_a_note(models, tmp_path):
    data = make_dataset_csv(tmp_path / "d.csv", rows=4, num_classes=2, labels="onehot")
    result = run("record", models["grey"], data, tmp_path / "out.csv")  # 3 outputs
    assert sum(Record.calls, []) == [0] * 4
    assert result.notes == ["label_variable 'y' has 2 columns and grey.nnp 3 outputs: "
                            "every row explains class 0, as NNC does"]


def test_failing_rows_are_reported_and_the_others_explained(models, dataset, tmp_path):
    folder = dataset.parent
    (folder / "images/1/4.png").unlink()
    (folder / "images/2/5.png").write_text("not a png")
    rows = read(dataset)
    rows[7][1] = "9"
    rows[8][1] = "cat"
    rows[9][0] = ""
    with open(dataset, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    out = tmp_path / "out" / "sg.csv"
    result = run("record", models["grey"], dataset, out)
    assert not result.ok and result.explained == 25
    assert [(f.row, f.path, f.reason) for f in result.failures] == [
        (4, "./images/1/4.png", "no such file"),
        (5, "./images/2/5.png", "not an image file"),
        (6, "./images/0/6.png", "label 9 is out of range for a model with 3 classes (0 to 2)"),
        (7, "./images/1/7.png", "label 'cat' is not a number"),
        (8, "", "the image path is empty"),
    ]
    assert result.errors == out.parent / "sg.errors.csv"
    assert read(result.errors) == [["row", "path", "reason"]] + [
        [str(f.row), f.path, f.reason] for f in result.failures]
    written = read(out)
    assert [row[0] for row in written[4:11]] == ["sg/0000/3.png", "", "", "", "", "",
                                                 "sg/0000/9.png"]
    assert [r[:-2] for r in written[1:]] == [[cell] + row for cell, row in zip(
        [r[0] for r in written[1:]], rows[1:])]
    assert [r[-2:] for r in written[5:10]] == [["", ""]] * 5  # failed rows: no class, no score
    assert not map_file(out, 4).exists() and map_file(out, 3).is_file()


def test_an_explainer_error_fails_only_its_row(models, dataset, tmp_path):
    Image.new("L", (8, 8), 128).save(dataset.parent / "images/2/2.png")
    result = run("refuses", models["grey"], dataset, tmp_path / "out.csv", chunk_size=8)
    assert [(f.row, f.reason) for f in result.failures] == [
        (2, "image: a blank image has no attribution")]
    assert result.explained == 29


def test_the_same_run_again_reuses_every_map(models, dataset, tmp_path):
    out = tmp_path / "out.csv"
    first = run("smoothgrad", models["grey"], dataset, out, num_samples=2)
    stamps = [os.stat(p).st_mtime_ns for p in first.maps]
    again = run("smoothgrad", models["grey"], dataset, out, num_samples=2)
    assert (again.explained, again.reused) == (0, 30)
    assert [os.stat(p).st_mtime_ns for p in again.maps] == stamps
    assert out.read_bytes() == (tmp_path / "out.csv").read_bytes()


def test_resume_after_ctrl_c_redoes_nothing_done(models, dataset, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("an earlier output\n")
    Record.interrupt_on_call = 3
    with pytest.raises(KeyboardInterrupt):
        run("record", models["grey"], dataset, out, chunk_size=8)
    assert out.read_text() == "an earlier output\n"  # never half overwritten
    manifest = out.with_suffix(".manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["row"] for line in manifest[1:]] == list(range(16))
    Record.calls, Record.interrupt_on_call = [], None
    result = run("record", models["grey"], dataset, out, chunk_size=8)
    assert (result.explained, result.reused) == (14, 16)
    assert sum(Record.calls, []) == [i % 3 for i in range(16, 30)]
    assert len(read(out)) == 31 and all(row[0] for row in read(out)[1:])


def test_changes_redo_what_they_touch(models, dataset, tmp_path):
    out = tmp_path / "out.csv"
    run("record", models["grey"], dataset, out)
    image = dataset.parent / "images/0/3.png"
    Image.new("L", (8, 8), 7).save(image)  # a new image under the same name
    rows = read(dataset)
    rows[2][1] = "2"  # row 1: another label
    with open(dataset, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    Record.calls = []
    result = run("record", models["grey"], dataset, out)
    assert (result.explained, result.reused) == (2, 28)
    assert Record.calls == [[2, 0]]


def test_other_parameters_or_overwrite_redo_everything_and_say_so(models, dataset, tmp_path):
    out = tmp_path / "out.csv"
    run("smoothgrad", models["grey"], dataset, out, num_samples=2, seed=0)
    changed = run("smoothgrad", models["grey"], dataset, out, num_samples=3, seed=0)
    assert (changed.explained, changed.reused) == (30, 0)
    assert changed.notes == ["the 30 maps made before used other settings "
                             "(num_samples 2 -> 3); redoing them"]
    other_model = run("smoothgrad", models["raw"], dataset, out, num_samples=3, seed=0)
    assert other_model.notes == ["the 30 maps made before used other settings "
                                 "(model changed); redoing them"]
    again = run("smoothgrad", models["raw"], dataset, out, num_samples=3, seed=0,
                overwrite=True)
    assert (again.explained, again.reused) == (30, 0)
    assert again.notes == ["overwrite: redoing the 30 maps made before"]


def test_a_loaded_model_is_fingerprinted_by_its_scores(models, dataset, tmp_path):
    out = tmp_path / "out.csv"
    run("record", xaikit.load_model(models["grey"]), dataset, out)
    again = run("record", xaikit.load_model(models["grey"]), dataset, out)
    assert again.reused == 30
    other = run("record", xaikit.load_model(models["raw"]), dataset, out)
    assert other.reused == 0


def test_stale_errors_file_goes_when_every_row_succeeds(models, dataset, tmp_path):
    out = tmp_path / "out.csv"
    image = dataset.parent / "images/0/0.png"
    kept = image.read_bytes()
    image.unlink()
    assert not run("record", models["grey"], dataset, out).ok
    assert (tmp_path / "out.errors.csv").is_file()
    image.write_bytes(kept)
    result = run("record", models["grey"], dataset, out)
    assert result.ok and (result.explained, result.reused) == (1, 29)
    assert not (tmp_path / "out.errors.csv").exists()


@pytest.mark.parametrize("kwargs,error,message", [
    ({"output": "{tmp}/maps.png"}, xaikit.ParameterError,
     "output: a dataset run writes a .csv file (got {tmp}/maps.png)"),
    ({"output": "{tmp}/data/validation.csv"}, xaikit.ParameterError,
     "output: {tmp}/data/validation.csv is the input CSV; choose another output"),
    ({"input_variable": "image"}, xaikit.DatasetError,
     "input: {tmp}/data/validation.csv: no variable 'image' for input_variable "
     "(variables: x, y)"),
    ({"num_samples": 0}, xaikit.ParameterError,
     "num_samples: Input should be greater than or equal to 1 (got 0)"),
    ({"chunk_size": 0}, xaikit.ParameterError,
     "chunk_size: must be a positive integer (got 0)"),
    ({"model": "{tmp}/missing.nnp"}, xaikit.ModelError,
     "model: {tmp}/missing.nnp: no such model file"),
])
def test_bad_arguments_fail_before_any_work(models, dataset, tmp_path, kwargs, error, message):
    args = {"model": models["grey"], "input": dataset, "output": tmp_path / "out.csv",
            **{k: v.format(tmp=tmp_path) if isinstance(v, str) else v
               for k, v in kwargs.items()}}
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(error) as err:
        xaikit.explain_dataset("smoothgrad", progress=False, **args)
    assert str(err.value) == message.format(tmp=tmp_path)
    assert sorted(tmp_path.rglob("*")) == before


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_a_bar_with_rate_and_time_left(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    counter = progress_counter(30, 10, "smoothgrad")
    counter.update(20)
    counter.close()
    assert "smoothgrad: 100%" in sys.stderr.getvalue()
    assert "30/30 [" in sys.stderr.getvalue() and "row/s]" in sys.stderr.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(progress_counter(30, 10, "smoothgrad"), LogProgress)
    silent = progress_counter(30, 10, "smoothgrad", show=False)
    silent.update(20)
    silent.close()
    assert sys.stderr.getvalue() == ""


def test_log_progress_prints_lines_not_bars(capsys, monkeypatch):
    monkeypatch.setattr("xaikit.datasets.progress.LOG_EVERY", 0.0)
    counter = LogProgress(total=30, initial=10, desc="smoothgrad", file=sys.stderr)
    counter.update(8)
    counter.update(12)  # the last: the caller's summary says it
    counter.close()
    err = capsys.readouterr().err
    assert "\r" not in err and len(err.splitlines()) == 1
    assert err.startswith("smoothgrad: 18/30 rows, ") and err.endswith(" left\n")


def test_several_sinks_and_labels_in_a_dataset_run(models, tmp_path):
    data = make_dataset_csv(tmp_path / "d.csv", rows=4, num_classes=3, size=(8, 8))
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\nfish\n")
    out = tmp_path / "out" / "sg.csv"
    result = run("smoothgrad", models["grey"], data, out, num_samples=2, seed=0,
                 sinks=["grey", "heatmap", "npy"], sink_params={"heatmap": {"alpha": 0.3}},
                 labels=labels)
    assert result.ok
    written = read(out)
    assert written[0] == ["SmoothGrad", "SmoothGrad.heatmap", "SmoothGrad.npy", "x:image",
                          "y:label", "class:explained", "class_name:explained",
                          "score:model output", "samples:noisy copies",
                          "stability:split-half"]
    assert written[2][:3] == ["sg/0000/1.grey.png", "sg/0000/1.heatmap.png",
                              "sg/0000/1.npy.npy"]  # .<sink> whenever several sinks write
    assert written[2][5:7] == ["1", "dog"]
    assert result.maps[1] == out.parent / "sg/0000/1.grey.png"
    assert Image.open(out.parent / "sg/0000/1.heatmap.png").mode == "RGB"
    assert np.load(out.parent / "sg/0000/1.npy.npy").shape == (1, 8, 8)
    again = run("smoothgrad", models["grey"], data, out, num_samples=2, seed=0,
                sinks=["grey", "heatmap", "npy"], sink_params={"heatmap": {"alpha": 0.3}},
                labels=labels)
    assert again.reused == 4 and again.explained == 0 and read(out) == written
    other = run("smoothgrad", models["grey"], data, out, num_samples=2, seed=0,
                sinks=["grey", "heatmap", "npy"], sink_params={"heatmap": {"alpha": 0.6}},
                labels=labels)
    assert other.explained == 4  # other sink parameters: the maps are redone
