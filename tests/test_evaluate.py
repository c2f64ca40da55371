"""xaikit evaluate and the built-in metrics: known answers on models whose answers are known."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import xaikit
from xaikit.builtins.metrics.randomization import parameter_layers
from xaikit.engine.backend import F, nn
from xaikit.evaluation import run as evaluation
from xaikit.plugin import manager as plugins
from xaikit.testing import run_cli

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "digits.nnp"
DEMO_IMAGES = ROOT / "demo" / "images"
REGION = (slice(2, 6), slice(1, 5))
"""The 4x4 pixels of an 8x8 image that the region model's score depends on."""


def region_mask() -> np.ndarray:
    mask = np.zeros((1, 8, 8), dtype=np.float32)
    mask[(0,) + REGION] = 1.0
    return mask


def region_network(x):
    """Class 0's score is the mean of the region's pixels; class 1's is 1 minus it."""
    mask = nn.Variable.from_numpy_array(region_mask()[None] / region_mask().sum())
    score = F.sum(F.mul2(x, F.broadcast(mask, x.shape)), axis=(1, 2, 3), keepdims=False)
    score = F.reshape(score, (x.shape[0], 1))
    return F.concatenate(score, F.r_sub_scalar(score, 1.0), axis=1)


class Region(xaikit.Explainer):
    """The map that is right for the region model: the region itself."""

    name = "region"
    description = "the region the test model looks at"

    def explain(self, model, image, class_index, params):
        return region_mask()


class Pixel(xaikit.Explainer):
    name = "one-pixel"
    description = "all importance on one pixel"

    def explain(self, model, image, class_index, params):
        values = np.zeros(model.input_shape, np.float32)
        values[0, 3, 3] = 5.0
        return values


class Constant(xaikit.Explainer):
    name = "constant"
    description = "every pixel equally"

    def explain(self, model, image, class_index, params):
        return np.full(model.input_shape, 0.5, np.float32)


class Fussy(xaikit.Explainer):
    """Fails on images brighter than average."""

    name = "fussy"
    description = "fails on bright images"

    def explain(self, model, image, class_index, params):
        if image.mean() > 0.5:
            raise RuntimeError("too bright\nsecond line")
        return np.ones(model.input_shape, np.float32)


class TestExplainers:
    @xaikit.hookimpl
    def register_explainers(self, register):
        for explainer in (Region(), Pixel(), Constant(), Fussy()):
            register(explainer)


@pytest.fixture(scope="module", autouse=True)
def test_explainers():
    name = plugins.register_plugin(TestExplainers(), name="test-explainers")
    yield
    plugins.unregister_plugin(name)


@pytest.fixture(scope="module")
def region_model():
    return xaikit.load_model(region_network, input_shape=(1, 8, 8), name="region")


@pytest.fixture(scope="module")
def bright_images(tmp_path_factory):
    """Eight 8x8 images of bright random pixels (the region model's score near 0.8)."""
    folder = tmp_path_factory.mktemp("bright")
    rng = np.random.default_rng(0)
    for i in range(8):
        pixels = rng.integers(150, 256, (8, 8), dtype=np.uint8)
        Image.fromarray(pixels, "L").save(folder / f"{i}.png")
    return folder


def values(rows, explainer, metric):
    found = [r.value for r in rows if r.explainer == explainer and r.metric == metric]
    assert found and None not in found, [r for r in rows if r.error]
    return np.array(found)


def test_the_right_map_beats_random_on_deletion_and_insertion(region_model, bright_images):
    rows = xaikit.evaluate(["region", "random"], region_model, bright_images, class_index=0,
                           progress=False)
    assert len(rows) == 8 * 2 * 2
    region_deletion = values(rows, "region", "deletion")
    random_deletion = values(rows, "random", "deletion")
    region_insertion = values(rows, "region", "insertion")
    random_insertion = values(rows, "random", "insertion")
    # The region is a quarter of the image: deleting it first leaves nothing by 25%.
    scores = [r.detail["curve"]["y"] for r in rows
              if (r.explainer, r.metric) == ("region", "deletion")]
    fractions = rows[0].detail["curve"]["x"]
    assert all(y[fractions.index(0.25):] == pytest.approx([0.0] * 16, abs=1e-6)
               for y in scores)
    assert region_deletion.mean() < random_deletion.mean() - 0.2
    assert region_insertion.mean() > random_insertion.mean() + 0.2
    assert (region_deletion < random_deletion).all()
    assert (region_insertion > random_insertion).all()


def test_insertion_from_the_baseline_reaches_the_image_score(region_model, bright_images):
    rows = xaikit.evaluate("region", region_model, bright_images, ["insertion", "deletion"],
                           class_index=0, metric_params={"insertion": {"steps": 4}},
                           progress=False)
    image = xaikit.load_image(bright_images / "0.png", region_model)
    full = float(region_model.predict(image[None])[0, 0])
    insertion, deletion = rows[0].detail["curve"], rows[1].detail["curve"]
    assert insertion["x"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert insertion["y"] == pytest.approx([0.0, full, full, full, full], abs=1e-6)
    assert len(deletion["x"]) == 21  # the default steps
    assert deletion["y"][0] == pytest.approx(full, abs=1e-6)


@pytest.mark.parametrize("baseline", ["black", "blur", "mean"])
def test_baselines_are_what_a_deleted_pixel_becomes(region_model, bright_images, baseline):
    rows = xaikit.evaluate("region", region_model, bright_images / "0.png", ["deletion"],
                           class_index=0, metric_params={"deletion": {"baseline": baseline}},
                           progress=False)
    image = xaikit.load_image(bright_images / "0.png", region_model)
    removed = rows[0].detail["curve"]["y"][-1]  # everything deleted: the baseline's score
    expected = {"black": 0.0, "mean": float(image.mean())}.get(baseline)
    if expected is None:  # a blur keeps the image's mean roughly, not its pixels
        assert 0.5 < removed < 1.0 and removed != pytest.approx(image[(0,) + REGION].mean())
    else:
        assert removed == pytest.approx(expected, abs=1e-5)


def test_mufidelity_of_the_right_map_is_high_and_of_random_low(region_model, bright_images):
    rows = xaikit.evaluate(["region", "random", "constant"], region_model, bright_images,
                           ["mufidelity"], class_index=0, progress=False,
                           metric_params={"mufidelity": {"grid": 8, "samples": 64}})
    region, noise = values(rows, "region", "mufidelity"), values(rows, "random", "mufidelity")
    # The score drop is the removed region pixels' mean, which the region map's sum
    # over the subset follows up to the pixels' values; a map spread over every pixel
    # follows only how many pixels a subset removes.
    assert region.min() > 0.8
    assert noise.mean() < region.mean() - 0.3
    assert values(rows, "constant", "mufidelity").mean() < region.mean() - 0.3


def test_randomization_catches_explainers_that_ignore_the_model():
    model = xaikit.load_model(DEMO)
    before = model.predict(xaikit.load_image(DEMO_IMAGES / "digit_3.png", model)[None])
    parameters = {name: v.d.copy() for name, v in model.parameters().items()}
    rows = xaikit.evaluate(["edge", "random", "gradient"], model, DEMO_IMAGES,
                           ["randomization"], seed=0, progress=False)
    assert values(rows, "edge", "randomization") == pytest.approx(1.0)
    assert values(rows, "random", "randomization") == pytest.approx(1.0)
    gradient = values(rows, "gradient", "randomization")
    assert gradient.mean() < 0.7 and gradient.max() < 0.8
    curve = rows[-1].detail["curve"]
    assert curve["x"] == ["affine4/affine", "affine3/affine", "conv2/conv", "conv1/conv"]
    assert curve["y"][-1] == rows[-1].value
    # The model others use is untouched.
    after = model.predict(xaikit.load_image(DEMO_IMAGES / "digit_3.png", model)[None])
    np.testing.assert_array_equal(before, after)
    for name, variable in model.parameters().items():
        np.testing.assert_array_equal(variable.d, parameters[name])


def test_randomization_leaves_batch_normalisation_statistics_alone(tmp_path):
    import nnabla.parametric_functions as PF

    def network(x):
        h = PF.convolution(x, 4, (3, 3), pad=(1, 1), name="conv")
        h = F.relu(PF.batch_normalization(h, batch_stat=False, name="bn"))
        return PF.affine(h, 3, name="affine")

    model = xaikit.load_model(network, input_shape=(1, 8, 8))
    for variable in model.parameters().values():  # trained-looking statistics
        variable.d = np.random.default_rng(0).uniform(0.5, 1.0, variable.shape)
    Image.new("L", (8, 8), 200).save(tmp_path / "grey.png")
    rows = xaikit.evaluate("gradient", model, tmp_path / "grey.png", ["randomization"],
                           class_index=0, progress=False)
    curve = rows[0].detail["curve"]
    assert curve["x"] == ["affine/affine", "bn/bn", "conv/conv"]
    # A random variance can be negative, which zeroes the activations and the map.
    assert all(value != 0.0 for value in curve["y"])
    bn, parameters = dict(parameter_layers(model))["bn/bn"], model.parameters()
    assert len(bn) == 2 and bn[0] == parameters["bn/bn/beta"] and bn[1] == parameters[
        "bn/bn/gamma"]


def test_random_logit_is_1_for_a_map_that_ignores_the_class(region_model, bright_images):
    rows = xaikit.evaluate(["random", "gradient"], DEMO, DEMO_IMAGES, ["random-logit"],
                           progress=False)
    assert values(rows, "random", "random-logit") == pytest.approx(1.0)
    assert values(rows, "gradient", "random-logit").mean() < 0.6
    others = [r.detail["other_class"] for r in rows]
    assert all(other != r.class_index and 0 <= other < 10 for other, r in zip(others, rows))
    assert len(set(others)) > 3


def test_sparseness_of_one_pixel_is_near_1_and_of_a_constant_map_0(region_model,
                                                                   bright_images):
    rows = xaikit.evaluate(["one-pixel", "constant", "region"], region_model,
                           bright_images / "0.png", ["sparseness"], progress=False)
    assert values(rows, "one-pixel", "sparseness") == pytest.approx(1 - 1 / 64)
    assert values(rows, "constant", "sparseness") == pytest.approx(0.0)
    # 16 equal pixels of 64: Gini = 1 - 16/64.
    assert values(rows, "region", "sparseness") == pytest.approx(0.75)


def test_values_do_not_change_with_the_batch_size_or_the_chunks(monkeypatch):
    """Up to float32 rounding: the passes' batches, and the explainer's, differ."""
    metrics = ["deletion", "insertion", "mufidelity", "random-logit"]
    args = (["gradient", "random"], DEMO, DEMO_IMAGES, metrics)
    options = {"progress": False, "metric_params": {"mufidelity": {"samples": 20}}}
    reference = xaikit.evaluate(*args, batch_size=64, **options)
    smaller = xaikit.evaluate(*args, batch_size=5, **options)
    monkeypatch.setattr(evaluation, "CHUNK_SIZE", 3)
    chunked = xaikit.evaluate(*args, batch_size=64, **options)
    keys = [(r.image, r.explainer, r.metric) for r in reference]
    for other in (smaller, chunked):
        assert [(r.image, r.explainer, r.metric) for r in other] == keys
        np.testing.assert_allclose([r.value for r in other], [r.value for r in reference],
                                   rtol=0, atol=1e-5)


def test_the_seed_fixes_the_report_and_another_seed_changes_it():
    args = (["random"], DEMO, DEMO_IMAGES / "digit_3.png", ["mufidelity", "deletion"])
    first = xaikit.evaluate(*args, seed=1, progress=False)
    again = xaikit.evaluate(*args, seed=1, progress=False)
    other = xaikit.evaluate(*args, seed=2, progress=False)
    assert [r.value for r in first] == [r.value for r in again]
    assert all(a.value != b.value for a, b in zip(first, other))
    # An explainer's own seed wins over the run's.
    own = xaikit.evaluate(*args, seed=2, explainer_params={"random": {"seed": 1}},
                          progress=False)
    assert own[1].value == first[1].value and own[0].value != first[0].value


def test_an_explainer_that_fails_on_an_image_gets_error_rows(region_model, tmp_path):
    for name, level in (("dark.png", 40), ("bright.png", 220)):
        Image.fromarray(np.full((8, 8), level, np.uint8), "L").save(tmp_path / name)
    rows = xaikit.evaluate(["fussy", "region"], region_model, tmp_path, progress=False)
    failed = [(r.image, r.explainer, r.metric, r.error) for r in rows if r.error]
    assert failed == [("bright.png", "fussy", m, "explainer: RuntimeError: too bright")
                      for m in ("deletion", "insertion")]
    assert all(r.value is not None for r in rows if not r.error)
    result = run_cli(["evaluate", "-e", "fussy", "-m", DEMO, "-i", tmp_path, "-o",
                      tmp_path / "report.csv"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: 2 of 4 rows failed; see {tmp_path / 'report.csv'}")
    assert "Traceback" not in result.output
    with open(tmp_path / "report.csv", newline="") as f:
        report = list(csv.DictReader(f))
    assert [(r["image"], r["error"]) for r in report if r["error"]] == [
        ("bright.png", "explainer: RuntimeError: too bright")] * 2


def test_unreadable_images_and_bad_labels_get_error_rows(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    data = tmp_path / "data.csv"
    data.write_text(f"x:image,y:label\n{DEMO_IMAGES / 'digit_3.png'},3\n./broken.png,1\n"
                    f"{DEMO_IMAGES / 'digit_5.png'},12\n")
    rows = xaikit.evaluate(["random"], DEMO, data, ["sparseness"], progress=False)
    assert [(r.class_index, r.error.split(":")[0]) for r in rows] == [
        (3, ""), (None, "image"), (None, "label 12 is out of range for a model with 10 "
                                        "classes (0 to 9)")]


@pytest.mark.parametrize("args,message", [
    (["--metric", "nope"], "error: --metric: no metric named 'nope' (installed: deletion, "),
    (["-e", "nope"], "error: --explainer: no explainer named 'nope' (installed: "),
    (["--insertion-steps", "3", "--metric", "deletion"],
     "error: --insertion-steps: the metric insertion is not chosen; add it with --metric "
     "insertion"),
    (["--deletion-steps", "0"],
     "error: --deletion-steps: Input should be greater than or equal to 1 (got 0)"),
    (["--plot", "curves.txt"], "error: --plot: matplotlib does not write .txt"),
    (["-o", "report.txt"], "error: --output: the report is a .csv file (got report.txt)"),
    (["-c", "10"], "error: --class-index: 10 is past the output width of digits.nnp"),
])
def test_bad_requests_are_one_line_errors(args, message, tmp_path):
    base = ["evaluate", "-m", DEMO, "-i", DEMO_IMAGES]
    result = run_cli(base + (["-e", "random"] if "-e" not in args else []) + args)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_an_empty_dataset_is_a_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    header_only = tmp_path / "header.csv"
    header_only.write_text("x:image,y:label\n")
    for source, message in ((tmp_path / "empty", "the folder holds no images"),
                            (header_only, "no data rows after the header"),
                            (tmp_path / "missing", "no such image, CSV or folder")):
        result = run_cli(["evaluate", "-e", "random", "-m", DEMO, "-i", source])
        assert result.exit_code == 1
        assert result.stderr == f"error: --input: {source}: {message}\n"


def test_folders_are_read_recursively_in_order(tmp_path):
    for name in ("b/2.png", "a.jpg", "b/1.bmp", "c/notes.txt", "z.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        if name.endswith(".txt"):
            (tmp_path / name).write_text("text")
        else:
            Image.new("L", (8, 8), 128).save(tmp_path / name)
    rows = xaikit.evaluate("random", DEMO, tmp_path, ["sparseness"], progress=False)
    assert [r.image for r in rows] == ["a.jpg", "b/1.bmp", "b/2.png", "z.png"]


def test_the_cli_compares_explainers_in_a_table_a_report_and_a_plot(tmp_path):
    report, plot = tmp_path / "report.csv", tmp_path / "curves.png"
    result = run_cli(["evaluate", "-e", "gradient", "-e", "random", "-e", "edge",
                      "-m", DEMO, "-i", DEMO_IMAGES, "--metric", "deletion", "--metric",
                      "insertion", "--metric", "sparseness", "--deletion-steps", "10",
                      "--seed", "0", "-o", report, "--plot", plot])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["deletion", "↓", "insertion", "↑", "sparseness", "↑"]
    assert [line.split()[0] for line in lines[1:4]] == ["gradient", "random", "edge"]
    assert all(re.fullmatch(r"\S+( +\d\.\d{3} ± \d\.\d{3}){3}", line) for line in lines[1:4])
    assert lines[4].startswith("mean ± 95% confidence interval over 10 images")
    assert lines[5:] == [str(report), str(plot)]
    with open(report, newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["image", "explainer", "metric", "value", "class", "error",
                              "detail"]
    assert len(table) == 10 * 3 * 3
    deletion = json.loads(table[0]["detail"])["curve"]
    assert (table[0]["metric"], len(deletion["x"])) == ("deletion", 11)  # --deletion-steps
    # The table's means are the report's.
    rows = xaikit.evaluation.report.read_report(report)
    mean = np.mean([r.value for r in rows if (r.explainer, r.metric) == ("random", "deletion")])
    assert lines[2].split()[1] == f"{mean:.3f}"
    with Image.open(plot) as image:
        assert image.size[0] > 2 * image.size[1]  # two panels side by side


def test_the_confidence_interval_is_students():
    rows = [xaikit.ReportRow(str(i), "e", "m", v, 0) for i, v in enumerate([1.0, 2.0, 3.0, 6.0])]
    summary = xaikit.evaluation.report.summarize(rows)[("e", "m")]
    # mean 3, sample sd sqrt(14/3), t(0.975, 3) = 3.182446
    assert summary.mean == 3.0
    assert summary.half_width == pytest.approx(3.182446 * np.sqrt(14 / 3) / 2, rel=1e-6)


def test_long_runs_print_their_cost_first(capsys):
    xaikit.evaluate(["random", "edge"], DEMO, DEMO_IMAGES, ["mufidelity", "randomization"],
                    metric_params={"mufidelity": {"samples": 127}})
    err = capsys.readouterr().err
    # per image and explainer: 128 forward passes, 4 maps (one per layer randomised)
    assert err.splitlines()[0] == (
        "note: 10 images x 2 explainers: 20 maps, then 80 more maps and 2,560 forward "
        "passes for the metrics (64 inputs per pass)")
    xaikit.evaluate(["random"], DEMO, DEMO_IMAGES / "digit_3.png", ["deletion"])
    assert "note:" not in capsys.readouterr().err


def test_a_model_copy_has_parameters_of_its_own(region_model):
    for model in (xaikit.load_model(DEMO),
                  xaikit.load_model(lambda x: xaikit.testing.tiny_cnn(x, 3),
                                    input_shape=(1, 8, 8))):
        twin = model.copy()
        original, copied = model.parameters(), twin.parameters()
        assert list(original) == list(copied) and original
        image = np.random.default_rng(0).random((1,) + model.input_shape, dtype=np.float32)
        np.testing.assert_array_equal(model.predict(image), twin.predict(image))
        for variable in copied.values():
            variable.d = 0.0
        assert not np.array_equal(model.predict(image), twin.predict(image))
        assert all(np.any(v.d != 0) for name, v in original.items() if name.endswith("W"))


def test_a_model_made_without_load_model_is_copied_unless_its_graphs_share_parameters():
    import nnabla.parametric_functions as PF

    def own(batch_size):  # parameters created in the model's scope: a copy gets its own
        x = nn.Variable((batch_size, 1, 4, 4))
        return xaikit.Graph(x, PF.affine(x, 2, name="fc"))

    model = xaikit.LoadedModel("own", (1, 4, 4), 2, own)
    twin = model.copy()
    assert twin.reload is None and list(twin.parameters()) == ["fc/affine/W", "fc/affine/b"]
    np.testing.assert_array_equal(twin.parameters()["fc/affine/W"].d,
                                  model.parameters()["fc/affine/W"].d)
    weights = nn.Variable.from_numpy_array(np.ones((16, 2), np.float32))

    def shared(batch_size):  # one set of parameters for every model built from it
        x = nn.Variable((batch_size, 1, 4, 4))
        nn.parameter.set_parameter("W", weights)
        return xaikit.Graph(x, F.affine(x, weights))

    with pytest.raises(xaikit.ModelError, match="a copy would share parameter 'W'"):
        xaikit.LoadedModel("shared", (1, 4, 4), 2, shared).copy()


def test_class_scores_are_the_predictions_at_any_batch_size():
    model = xaikit.load_model(DEMO)
    images = np.stack([xaikit.load_image(p, model) for p in sorted(DEMO_IMAGES.glob("*.png"))])
    expected = model.predict(images)[np.arange(10), [3] * 10]
    for batch_size in (1, 4, 64):
        scores = xaikit.class_scores(model, iter(images), 3, batch_size=batch_size)
        np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-7)
    copies = np.repeat(images[:1], 10, axis=0)
    logits = xaikit.class_scores(model, copies, list(range(10)), score="logit")
    softmax = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(softmax, model.predict(images[:1])[0], rtol=1e-5, atol=1e-7)
