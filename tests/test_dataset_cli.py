"""`xaikit run <explainer>` on a dataset CSV: NNC's command line, exit status, kill and resume."""

import csv

import pytest

from xaikit.testing import make_dataset_csv
from xaikit.testing import run_cli as run


@pytest.fixture
def dataset(tmp_path):
    return make_dataset_csv(tmp_path / "data" / "validation.csv", rows=30)


def test_nnc_batch_command_line_works_unchanged(models, dataset, tmp_path):
    out = tmp_path / "smoothgrad.csv"
    result = run(["run", "smoothgrad", "-m", str(models["grey"]), "-nl", "0.2", "-n", "3",
                  "-i", str(dataset), "-o", str(out), "-v1", "x", "-v2", "y", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n"
    assert result.stderr == f"{out}: 30 rows: 30 explained, 0 reused, 0 failed, " + \
        result.stderr.split(", 0 failed, ")[1]
    assert "\r" not in result.stderr  # no bar outside a terminal
    ours = tmp_path / "ours.csv"
    assert run(["run", "smoothgrad", "--model", str(models["grey"]), "--noise_level", "0.2",
                "--num_samples", "3", "--input", str(dataset), "--output", str(ours),
                "--input-variable", "x", "--label_variable", "y", "--seed", "0"]
               ).exit_code == 0
    assert [r[1:] for r in csv.reader(open(ours))] == [r[1:] for r in csv.reader(open(out))]
    for row in range(30):
        name = f"0000/{row}.png"
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "smoothgrad" / name
                                                            ).read_bytes()


def test_sinks_and_labels_reach_every_row(models, dataset, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("zero\none\ntwo\n")
    out = tmp_path / "sg.csv"
    result = run(["run", "smoothgrad", "-m", str(models["grey"]), "-i", str(dataset),
                  "-o", str(out), "-n", "2", "--sink", "grey", "--sink", "panel",
                  "--panel-tile-size", "64", "--labels", str(labels)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(open(out)))
    assert rows[0][:2] == ["SmoothGrad", "SmoothGrad.panel"]
    assert rows[0][-5:] == ["class:explained", "class_name:explained", "score:model output",
                            "samples:noisy copies", "stability:split-half"]
    assert [r[-4] for r in rows[1:4]] == ["zero", "one", "two"]
    from PIL import Image
    assert Image.open(tmp_path / rows[1][1]).height > 64  # a panel: tiles and a caption


def test_the_model_is_loaded_once(models, dataset, tmp_path, monkeypatch):
    from xaikit.builtins.adapters.nnp import NnpAdapter

    loads = []
    load = NnpAdapter.load
    monkeypatch.setattr(NnpAdapter, "load", lambda self, ref, params: loads.append(ref) or
                        load(self, ref, params))
    result = run(["run", "smoothgrad", "-m", str(models["grey"]), "-i", str(dataset),
                  "-o", str(tmp_path / "out.csv"), "-n", "1"])
    assert result.exit_code == 0, result.output
    assert loads == [str(models["grey"])]


def test_defaults_are_nncs_output_result_csv_and_smoothgrad_csv(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset_csv(tmp_path / "output_result.csv", rows=3)
    rows = list(csv.reader(open("output_result.csv")))
    with open("output_result.csv", "w", newline="") as f:  # NNC adds the prediction y'
        csv.writer(f, lineterminator="\n").writerows(
            [rows[0] + ["y':label"]] + [r + ["0"] for r in rows[1:]])
    result = run(["run", "smoothgrad", "-m", str(models["grey"]), "-n", "2"])
    assert result.exit_code == 0, result.output
    assert [r[:-3] for r in list(csv.reader(open("smoothgrad.csv")))[:2]] == [
        ["SmoothGrad", "x:image", "y:label", "y':label", "class:explained"],
        ["smoothgrad/0000/0.png", "./images/0/0.png", "0", "0", "0"]]


def test_no_image_and_no_output_result_csv_is_named(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(["run", "smoothgrad", "-m", str(models["grey"])])
    assert result.exit_code == 1
    assert result.stderr == ("error: --input: output_result.csv: no such file (give an image "
                             "with --image, or a dataset CSV with --input)\n")


def test_failed_rows_are_listed_and_exit_status_is_1(models, dataset, tmp_path):
    for row in (1, 2):
        (dataset.parent / f"images/{row}/{row}.png").unlink()
    out = tmp_path / "out.csv"
    result = run(["run", "smoothgrad", "-m", str(models["grey"]), "-i", str(dataset),
                  "-o", str(out), "-n", "2"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:2] == ["row 1: ./images/1/1.png: no such file",
                         "row 2: ./images/2/2.png: no such file"]
    assert lines[2].startswith(f"{out}: 30 rows: 28 explained, 0 reused, 2 failed, ")
    assert lines[3:] == [f"error: 2 of 30 rows failed; see {tmp_path / 'out.errors.csv'}"]
    assert [r[0] for r in csv.reader(open(out))][1:4] == ["out/0000/0.png", "", ""]


@pytest.mark.parametrize("args,message", [
    (["--image", "{img}", "-v1", "x"],
     "error: --input-variable: only dataset runs use it (--input data.csv); --image explains "
     "one image"),
    (["--image", "{img}", "--overwrite"],
     "error: --overwrite: only dataset runs use it (--input data.csv); --image explains "
     "one image"),
    (["-i", "{csv}", "-c", "1,2"],
     "error: --class-index: a dataset run explains one class per row: an index, 'predicted' "
     "or (for a CSV) 'label'"),
    (["-i", "{csv}", "-c", "3"],
     "error: --class-index: 3 is past the output width of grey.nnp (3 classes: 0 to 2)"),
    (["-i", "{img}", "--workers", "2"],
     "error: --workers: only dataset runs use it (--input data.csv); --image explains "
     "one image"),
    (["-i", "{csv}", "--input", "{csv}"],
     "error: --input: given twice: -i {csv} and --input {csv}"),
    (["-i", "{csv}", "-v2", "label"],
     "error: --input: {csv}: no variable 'label' for label_variable (variables: x, y)"),
    (["-i", "{csv}", "-o", "{tmp}/map.png"],
     "error: --output: a dataset run writes a .csv file (got {tmp}/map.png)"),
])
def test_mixed_up_options_end_with_one_line(models, images, dataset, tmp_path, args, message):
    fill = {"img": images["grey"], "csv": dataset, "tmp": tmp_path}
    result = run(["run", "smoothgrad", "-m", str(models["grey"])]
                 + [a.format(**fill) for a in args])
    assert result.exit_code == 1
    assert result.stderr == message.format(**fill) + "\n"


def test_help_shows_the_dataset_options():
    text = " ".join(run(["run", "smoothgrad", "--help"]).output.split())
    for expected in [
        "--input PATH Dataset CSV whose every row is explained, when no --image is given; "
        "or a folder, whose every image file is. [default: output_result.csv]",
        "-v1, --input-variable, --input_variable TEXT Dataset variable holding the image "
        "paths. [default: x]",
        "-v2, --label-variable, --label_variable TEXT",
        "--overwrite / --no-overwrite Dataset runs: redo the maps",
        "-i, --image PATH Image file to analyse. A .csv file or a folder is a dataset",
        "--workers INTEGER Dataset runs: explain on a local Dask cluster",
        "--scheduler TEXT Dataset runs: explain on the Dask cluster of this scheduler",
    ]:
        assert expected in text
