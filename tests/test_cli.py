import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import xaikit
from xaikit.builtins.sinks.grey import grey_map
from xaikit.testing import run_cli as run


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
    (["-nl", "1.5"], "error: --noise-level: Input should be less than or equal to 1 (got 1.5)"),
    (["-n", "0"], "error: --num-samples: Input should be greater than or equal to 1 (got 0)"),
    (["-c", "3"], "error: --class-index: 3 is past the output width of grey.nnp (3 classes: "
                  "0 to 2)"),
    (["-c", "-1"], "error: --class-index: Input should be greater than or equal to 0 (got '-1')"),
    (["-c", "3,x"], "error: --class-index: expected a class index, 'predicted' or indices like "
                    "3,5,7 (got '3,x')"),
    (["-c", "1,3"], "error: --class-index: 3 is past the output width of grey.nnp (3 classes: "
                    "0 to 2)"),
    (["-i", "{tmp}/missing.png"], "error: --image: {tmp}/missing.png: no such file"),
    (["-i", "{tmp}/text.png"], "error: --image: {tmp}/text.png: not an image file"),
    (["-m", "{tmp}/text.png"], "error: --model: {tmp}/text.png: not an .nnp file (not a zip "
                               "archive, or truncated)"),
    (["-o", "{tmp}/map.txt"], "error: --output: no sink writes .txt (known extensions: .npy, "
                              ".png, .jpg, .jpeg, .bmp, .tif, ...)"),
    (["--sink", "nope"], "error: --sink: no sink named 'nope' (installed: grey, heatmap, npy, "
                         "panel)"),
    (["--heatmap-alpha", "2"], "error: --heatmap-alpha: the heatmap sink is not chosen; add "
                               "--sink heatmap"),
    (["--sink", "heatmap", "--heatmap-alpha", "2"], "error: --heatmap-alpha: Input should be "
                                                    "less than or equal to 1 (got 2.0)"),
    (["--sink", "panel", "--panel-colormap", "rainbowish"], "error: --panel-colormap: not a "
                                                            "colour map name (try inferno, "
                                                            "viridis or cividis) (got "
                                                            "'rainbowish')"),
    (["--labels", "{tmp}/missing.txt"], "error: --labels: {tmp}/missing.txt: no such file"),
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


def test_help_shows_every_parameter_with_default_and_range():
    result = run(["run", "smoothgrad", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for expected in [
        "-m, --model FILE Model file to explain: .nnp, .onnx, or a format another installed "
        "adapter reads (xaikit list). [default: results.nnp]",
        "-i, --image PATH Image file to analyse.",
        "-c, --class-index, --class_index TEXT Index of the class to explain; "
        "'predicted' for the model's top class, or several indices such as 3,5,7 for one map "
        "each. Dataset runs: each row's label by default, 'predicted' or one index for every "
        "row. [default: 0]",
        "-o, --output FILE Output file",
        "-nl, --noise-level, --noise_level FLOAT Noise standard deviation as a fraction of the "
        "preprocessed image's value range (max - min). [default: 0.15; range: ≥ 0.0, ≤ 1.0]",
        "-n, --num-samples, --num_samples INTEGER|auto Noisy copies whose gradients are "
        "averaged (1 to 1000000), or auto: draw them until the map's stability reaches",
        "--stability FLOAT With --num-samples auto: the stability at which to stop",
        "--max-samples, --max_samples INTEGER With --num-samples auto: the most noisy copies "
        "drawn per image. [default: 1000; range: ≥ 2, ≤ 1000000]",
        "--seed INTEGER Seed of the noise",
        "--batch-size, --batch_size INTEGER",
        "--sink [grey|heatmap|panel|npy] Sink to write the map with",
        "--labels FILE Text file naming the classes",
        "--heatmap-alpha, --heatmap_alpha FLOAT Opacity of the colour map over the image: 0 "
        "shows the image only, 1 the map only. [default: 0.5; range: ≥ 0.0, ≤ 1.0]",
        "--heatmap-percentile, --heatmap_percentile FLOAT",
        "--heatmap-colormap, --heatmap_colormap TEXT",
        "--panel-tile-size, --panel_tile_size INTEGER Longer side of each picture in pixels",
    ]:
        assert expected in text
    assert not re.search(r"\((model|image|csv|variable|int)\)", text)  # NNC's GUI tags


def test_top_level_help_shows_whole_command_descriptions():
    commands = run(["--help"]).output.split("Commands:")[1]
    described = dict(line.split(None, 1) for line in commands.strip().splitlines())
    assert described == {
        "evaluate": "Compare explainers on evaluation metrics.",
        "list": "Show the installed explainers, model adapters, sinks and metrics.",
        "run": "Run an explainer on an image or on every row of a dataset CSV."}
    assert "..." not in commands  # click cuts long ones off with "..."


def test_list_shows_plugins_and_packages():
    result = run(["list"])
    assert result.exit_code == 0
    assert re.search(r"smoothgrad +xaikit \(xaikit_smoothgrad\) +SmoothGrad", result.output)
    assert re.search(r"nnp +xaikit \(xaikit\) +Neural Network Console", result.output)
    assert re.search(r"grey +xaikit \(xaikit\) +NNC's map", result.output)
    columns = {line.index("xaikit") for line in result.output.splitlines() if "(xaikit" in line}
    assert len(columns) == 1  # the package column lines up, whatever the names' lengths


def test_unknown_explainer():
    result = run(["run", "nope"])
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
    assert proc.stderr == ("error: --noise-level: Input should be less than or equal to 1 "
                           "(got 2.0)\n")


def test_several_sinks_in_one_command(models, images, tmp_path):
    out = tmp_path / "map.png"
    result = run(["run", "smoothgrad", "-m", str(models["rgb"]), "-i", str(images["rgb"]),
                  "-c", "1", "-o", str(out), "--seed", "0", "-n", "3", "--sink", "grey",
                  "--sink", "heatmap", "--sink", "panel", "--sink", "npy",
                  "--heatmap-alpha", "0", "--panel-tile-size", "64"])
    assert result.exit_code == 0, result.output
    names = ["map.grey.png", "map.heatmap.png", "map.panel.png", "map.npy.npy"]
    assert result.stdout.split() == [str(tmp_path / n) for n in names]
    assert Image.open(tmp_path / "map.grey.png").size == (10, 6)  # the network's input
    heat = Image.open(tmp_path / "map.heatmap.png")
    assert heat.size == (9, 12)  # the image's own size
    original = np.asarray(Image.open(images["rgb"]).convert("RGB"))
    np.testing.assert_array_equal(np.asarray(heat), original)  # --heatmap-alpha 0 arrived
    assert Image.open(tmp_path / "map.panel.png").width == 3 * 45 + 4 * 8  # 9 wide, x5
    exp = xaikit.explain("smoothgrad", model=models["rgb"], image=images["rgb"], class_index=1,
                         seed=0, num_samples=3)
    np.testing.assert_array_equal(np.load(tmp_path / "map.npy.npy"), exp.attribution)


def test_sink_chosen_by_extension_or_by_name(models, images, tmp_path):
    base = ["run", "smoothgrad", "-m", str(models["grey"]), "-i", str(images["grey"]), "-n", "2"]
    assert run(base + ["-o", str(tmp_path / "a.npy")]).exit_code == 0
    assert np.load(tmp_path / "a.npy").shape == (1, 8, 8)
    assert run(base + ["-o", str(tmp_path / "b.jpg"), "--sink", "heatmap"]).exit_code == 0
    assert Image.open(tmp_path / "b.jpg").format == "JPEG"
    result = run(base + ["-o", str(tmp_path / "c.png"), "--sink", "npy"])
    assert result.exit_code == 1  # the name given is never changed: say so before the work
    assert result.stderr == (f"error: --output: {tmp_path / 'c.png'}: the npy sink writes .npy, "
                             f"not .png; name the output {tmp_path / 'c.npy'}\n")
    assert not (tmp_path / "c.npy").exists() and not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("args,message", [
    (["-o", "{tmp}/results"], "error: --output: {tmp}/results: is a folder; name a file in "
                              "it, such as {tmp}/results/smoothgrad.png"),
    (["-m", "{tmp}/results"], "error: --model: {tmp}/results: is a folder, not a model file"),
    (["--labels", "{tmp}/results"], "error: --labels: {tmp}/results: is a folder, not a text "
                                    "file"),
    (["-i", "{tmp}/data.csv", "-o", "{tmp}/results"], "error: --output: {tmp}/results: is a "
                                                      "folder; name a CSV file in it, such as "
                                                      "{tmp}/results/smoothgrad.csv"),
])
def test_a_folder_is_said_to_be_a_folder(models, images, tmp_path, args, message):
    (tmp_path / "results").mkdir()
    (tmp_path / "data.csv").write_text("x:image,y:label\n")
    given = {"-m": str(models["grey"]), "-i": str(images["grey"]), "-n": "2",
             **dict(zip(args[::2], [a and a.format(tmp=tmp_path) for a in args[1::2]]))}
    result = run(["run", "smoothgrad"] + [x for kv in given.items() if kv[1] for x in kv])
    assert result.exit_code == 1
    assert result.stderr == message.format(tmp=tmp_path) + "\n"


@pytest.mark.parametrize("name,format_name", [("map.jpg", "JPEG"), ("map.bmp", "BMP"),
                                              ("map.tif", "TIFF"), ("map.gif", "GIF")])
@pytest.mark.parametrize("sink", [[], ["--sink", "grey"]], ids=["by-extension", "grey"])
def test_grey_map_goes_to_the_image_file_named(models, images, tmp_path, name, format_name, sink):
    """As NNC: -o names any image file; several sinks write the format, the grey map wins."""
    result = run(["run", "smoothgrad", "-m", str(models["grey"]), "-i", str(images["grey"]),
                  "-n", "2", "--seed", "0", "-o", str(tmp_path / name)] + sink)
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(tmp_path / name)]
    assert [p.name for p in tmp_path.iterdir()] == [name]
    with Image.open(tmp_path / name) as written:
        assert (written.format, written.size) == (format_name, (8, 8))
        pixels = np.asarray(written.convert("L"))
    exp = xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                         num_samples=2, seed=0)
    if format_name != "JPEG":  # lossless
        np.testing.assert_array_equal(pixels, grey_map(exp.attribution))


def test_predicted_class_keeps_the_output_name(models, images, tmp_path):
    out = tmp_path / "map.png"
    result = run(["run", "smoothgrad", "-m", str(models["rgb"]), "-i", str(images["rgb"]),
                  "-c", "predicted", "-o", str(out), "--seed", "2", "-n", "3"])
    assert result.exit_code == 0, result.output
    model = xaikit.load_model(models["rgb"])
    from xaikit.run.images import load_image

    best = int(model.predict(load_image(images["rgb"], model)[None]).argmax())
    exp = xaikit.explain("smoothgrad", model=model, image=images["rgb"], class_index=best,
                         seed=2, num_samples=3)
    assert np.array_equal(np.asarray(Image.open(out)), grey_map(exp.attribution))


def test_a_list_of_classes_writes_one_map_per_class(models, images, tmp_path):
    out = tmp_path / "map.png"
    result = run(["run", "smoothgrad", "-m", str(models["rgb"]), "-i", str(images["rgb"]),
                  "-c", "3,0", "-o", str(out), "--seed", "1", "-n", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(tmp_path / "map.class3.png"),
                                     str(tmp_path / "map.class0.png")]
    for c in (3, 0):
        exp = xaikit.explain("smoothgrad", model=models["rgb"], image=images["rgb"],
                             class_index=c, seed=1, num_samples=3)
        written = np.asarray(Image.open(tmp_path / f"map.class{c}.png"))
        assert np.array_equal(written, grey_map(exp.attribution))


def test_labels_name_the_class_on_the_panel(models, images, tmp_path):
    (tmp_path / "labels.txt").write_text("zero\none\ntwo\n")
    args = ["run", "smoothgrad", "-m", str(models["grey"]), "-i", str(images["grey"]), "-c",
            "2", "--seed", "0", "-n", "2", "--sink", "panel", "--panel-tile-size", "64"]
    assert run(args + ["-o", str(tmp_path / "plain.png")]).exit_code == 0
    result = run(args + ["-o", str(tmp_path / "named.png"), "--labels",
                         str(tmp_path / "labels.txt")])
    assert result.exit_code == 0, result.output
    plain = np.asarray(Image.open(tmp_path / "plain.png"))
    named = np.asarray(Image.open(tmp_path / "named.png"))
    differ = (plain != named).any(axis=(1, 2))
    assert differ.any() and differ.argmax() > 8 + 64  # only the caption, below the tiles


@pytest.mark.parametrize("spelling", ["-li", "--layer_index", "--layer-index"])
def test_nncs_hidden_layer_index_option(tmp_path, spelling):
    """NNC's -li: the map of a variable inside the network, at that variable's size."""
    from pathlib import Path

    demo = Path(__file__).resolve().parent.parent / "demo"
    base = ["run", "smoothgrad", "-m", str(demo / "digits.nnp"), "-i",
            str(demo / "images" / "digit_3.png"), "-c", "3", "-n", "3", "--seed", "0"]
    for index, size in [("0", (28, 28)), ("3", (12, 12)), ("7", (64, 1))]:
        out = tmp_path / f"li{index}.png"
        result = run(base + [spelling, index, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert Image.open(out).size == size
    result = run(base + [spelling, "7", "--sink", "heatmap", "-o", str(tmp_path / "h.png")])
    assert result.stderr == ("error: --output: a map of shape (64,) is not a picture to lay "
                             "over the image; write it with the grey or npy sink\n")
