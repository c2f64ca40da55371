import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import xaikit
from xaikit.cli import cli, main
from xaikit.sinks.grey import grey_map


class _Main:
    """Lets CliRunner drive main(), the entry point with its error handling."""

    name = "xaikit"

    def main(self, args=None, prog_name=None, **extra):
        main(list(args))


def run(args):
    return CliRunner().invoke(_Main(), args)


def test_cli_and_api_give_the_same_map(models, images, tmp_path):
    out = tmp_path / "cli.png"
    result = run(["run", "smoothgrad", "--model", str(models["rgb"]), "--image",
                  str(images["rgb"]), "--class-index", "3", "--output", str(out),
                  "--noise-level", "0.2", "--num-samples", "6", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    exp = xaikit.explain("smoothgrad", model=models["rgb"], image=images["rgb"], class_index=3,
                         noise_level=0.2, num_samples=6, seed=7)
    assert np.array_equal(np.asarray(Image.open(out)), grey_map(exp.attribution))


def test_nnc_spellings_work_unchanged(models, images, tmp_path):
    nnc = tmp_path / "nnc.png"
    ours = tmp_path / "ours.png"
    assert run(["run", "smoothgrad", "-m", str(models["grey"]), "-nl", "0.3", "-n", "5",
                "-i", str(images["grey"]), "-c", "2", "-o", str(nnc), "--seed", "1"]
               ).exit_code == 0
    assert run(["run", "smoothgrad", "--model", str(models["grey"]), "--noise_level", "0.3",
                "--num_samples", "5", "--image", str(images["grey"]), "--class_index", "2",
                "--output", str(ours), "--seed", "1"]).exit_code == 0
    assert nnc.read_bytes() == ours.read_bytes()


def test_default_output_is_named_after_the_explainer(models, images, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(["run", "smoothgrad", "-m", str(models["grey"]), "-i", str(images["grey"])])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "smoothgrad.png").size == (8, 8)


@pytest.mark.parametrize("args,message", [
    (["-nl", "1.5"], "error: noise_level: Input should be less than or equal to 1 (got 1.5)"),
    (["-n", "0"], "error: num_samples: Input should be greater than or equal to 1 (got 0)"),
    (["-c", "3"], "error: class_index: 3 is past the output width of grey.nnp (3 classes: "
                  "0 to 2)"),
    (["-c", "-1"], "error: class_index: Input should be greater than or equal to 0 (got -1)"),
    (["-i", "{tmp}/missing.png"], "error: image: {tmp}/missing.png: no such file"),
    (["-i", "{tmp}/text.png"], "error: image: {tmp}/text.png: not an image file"),
    (["-m", "{tmp}/text.png"], "error: model: {tmp}/text.png: not an .nnp file (not a zip "
                               "archive)"),
    (["-o", "{tmp}/map.txt"], "error: output: no sink writes .txt (known extensions: .png)"),
])
def test_bad_values_end_with_one_line_and_no_output(models, images, tmp_path, args, message):
    (tmp_path / "text.png").write_text("just text")
    base = {"-m": str(models["grey"]), "-i": str(images["grey"]), "-o": str(tmp_path / "o.png")}
    given = dict(zip(args[::2], [a.format(tmp=tmp_path) for a in args[1::2]]))
    argv = ["run", "smoothgrad"] + [x for kv in {**base, **given}.items() for x in kv]
    result = run(argv)
    assert result.exit_code == 1
    assert result.stderr == message.format(tmp=tmp_path) + "\n"
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text.png"]


def test_missing_image_is_named(models):
    result = run(["run", "smoothgrad", "-m", str(models["grey"])])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: image: missing")


def test_help_shows_every_parameter_with_default_and_range():
    result = CliRunner().invoke(cli, ["run", "smoothgrad", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for expected in [
        "-m, --model TEXT Model file (*.nnp) to explain (model). [default: results.nnp]",
        "-i, --image TEXT Image file to analyse (image).",
        "-c, --class-index, --class_index INTEGER Index of the class to explain (int). "
        "[default: 0; range: ≥ 0]",
        "-o, --output TEXT Output file",
        "-nl, --noise-level, --noise_level FLOAT Noise standard deviation as a fraction of the "
        "preprocessed image's value range (max - min). [default: 0.15; range: ≥ 0.0, ≤ 1.0]",
        "-n, --num-samples, --num_samples INTEGER Noisy copies whose gradients are averaged. "
        "[default: 25; range: ≥ 1]",
        "--seed INTEGER Seed of the noise",
        "--batch-size, --batch_size INTEGER",
    ]:
        assert expected in text


def test_list_shows_plugins_and_packages():
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0
    assert re.search(r"smoothgrad +xaikit \(xaikit_smoothgrad\) +SmoothGrad", result.output)
    assert re.search(r"nnp +xaikit \(xaikit\) +Neural Network Console", result.output)
    assert re.search(r"grey +xaikit \(xaikit\) +NNC's map", result.output)
    columns = {line.index("xaikit") for line in result.output.splitlines() if "(xaikit" in line}
    assert len(columns) == 1  # the package column lines up, whatever the names' lengths


def test_unknown_explainer():
    result = CliRunner().invoke(cli, ["run", "nope"])
    assert result.exit_code == 2 and "No such command 'nope'" in result.output


def test_the_installed_command_runs_in_a_subprocess(models, images, tmp_path):
    out = tmp_path / "sub.png"
    proc = subprocess.run(
        [sys.executable, "-m", "xaikit", "run", "smoothgrad", "-m", str(models["grey"]),
         "-i", str(images["grey"]), "-c", "1", "-o", str(out), "--seed", "0"],
        capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # nnabla's start-up log is silenced
    assert Image.open(out).mode == "L"
    proc = subprocess.run([sys.executable, "-m", "xaikit", "run", "smoothgrad", "-m",
                           str(models["grey"]), "-i", str(images["grey"]), "-nl", "2"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr == "error: noise_level: Input should be less than or equal to 1 (got 2.0)\n"
