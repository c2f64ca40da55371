"""The manifest of a dataset run: what it keeps, and what it says when settings change."""

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import xaikit
from xaikit.datasets.manifest import FORMAT, Manifest, model_fingerprint

SETTINGS = {"explainer": "smoothgrad", "params": {"num_samples": 2, "seed": None},
            "model": {"size": 10}, "sinks": {"grey": {}}}


def made(path, settings, rows):
    """A manifest of ``rows`` made with ``settings``, as a finished run leaves it."""
    manifest, _ = Manifest.load(path, settings, overwrite=False)
    manifest.begin()
    for row in rows:
        manifest.add(row, {"image": f"./{row}.png", "class": row % 3})
    manifest.close()
    return manifest


def test_a_forgotten_row_leaves_the_file_at_the_next_compaction(tmp_path):
    path = tmp_path / "out.manifest.jsonl"
    manifest = made(path, SETTINGS, [0, 1, 2])
    manifest.forget(1)
    assert sorted(manifest.done) == [0, 2]
    manifest.compact([0, 1, 2])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"format": FORMAT, **SETTINGS}
    assert [line["row"] for line in lines[1:]] == [0, 2]
    again, note = Manifest.load(path, SETTINGS, overwrite=False)
    assert note is None and sorted(again.done) == [0, 2]


@pytest.mark.parametrize("change,says", [
    ({"params": {"num_samples": 3, "seed": None}, "model": {"size": 11}},
     "model changed, num_samples 2 -> 3"),
    ({"params": {"num_samples": 2, "seed": None, "batch_size": 4}}, "batch_size None -> 4"),
    ({"labels": ["cat", "dog"]}, "labels changed"),
])
def test_other_settings_redo_every_map_and_name_what_changed(tmp_path, change, says):
    path = tmp_path / "out.manifest.jsonl"
    made(path, SETTINGS, [0, 1])
    manifest, note = Manifest.load(path, {**SETTINGS, **change}, overwrite=False)
    assert note == f"the 2 maps made before used other settings ({says}); redoing them"
    assert manifest.done == {}


def test_a_manifest_of_an_older_format_says_so(tmp_path):
    path = tmp_path / "out.manifest.jsonl"
    made(path, SETTINGS, [0])
    lines = path.read_text().splitlines()
    older = json.loads(lines[0])
    older["format"] = FORMAT - 1
    path.write_text("\n".join([json.dumps(older)] + lines[1:]) + "\n")
    _, note = Manifest.load(path, SETTINGS, overwrite=False)
    assert note == "the 1 maps made before used other settings (older manifest); redoing them"


def test_a_continued_run_keeps_the_earlier_rows_interrupted_or_compacted(tmp_path):
    path = tmp_path / "out.manifest.jsonl"
    made(path, SETTINGS, [0, 1])
    with open(path, "a") as f:
        f.write('{"row": 2, "ima')  # a line torn by a killed process
    manifest, note = Manifest.load(path, SETTINGS, overwrite=False)
    assert note is None and sorted(manifest.done) == [0, 1]
    manifest.begin()
    for row in (2, 3):
        manifest.add(row, {"image": f"./{row}.png", "class": 0})
    manifest.flush()
    assert path.read_text().endswith('{"row": 3, "image": "./3.png", "class": 0}\n')
    manifest.close()  # as a run killed before its compaction leaves it
    again, note = Manifest.load(path, SETTINGS, overwrite=False)
    # the row appended to the torn line is lost with it (its map is redone), no other
    assert note is None and sorted(again.done) == [0, 1, 3]
    again.compact([0, 1, 3])
    last, note = Manifest.load(path, SETTINGS, overwrite=False)
    assert note is None and sorted(last.done) == [0, 1, 3]


def test_an_overwrite_keeps_the_rows_it_redid_under_its_own_settings(tmp_path):
    path = tmp_path / "out.manifest.jsonl"
    made(path, SETTINGS, [0, 1, 2])
    other = {**SETTINGS, "params": {"num_samples": 3, "seed": None}}
    manifest, note = Manifest.load(path, other, overwrite=True)
    assert note == "overwrite: redoing the 3 maps made before" and manifest.done == {}
    manifest.begin()
    manifest.add(0, {"image": "./0.png", "class": 0})
    manifest.close()  # interrupted
    again, note = Manifest.load(path, other, overwrite=False)
    assert note is None and sorted(again.done) == [0]


@pytest.mark.parametrize("text", ["", '{"format": 1, "expl', '[1, 2]\n{"row": 0}\n'])
def test_a_file_without_settings_is_no_manifest(tmp_path, text):
    path = tmp_path / "out.manifest.jsonl"
    path.write_text(text)
    manifest, note = Manifest.load(path, SETTINGS, overwrite=False)
    assert note is None and manifest.done == {}


def test_lines_that_are_not_rows_are_skipped(tmp_path):
    path = tmp_path / "out.manifest.jsonl"
    made(path, SETTINGS, [1])
    with open(path, "a") as f:
        f.write('[3]\n7\n{"row": "5"}\n{"image": "./4.png"}\n')
    manifest, _ = Manifest.load(path, SETTINGS, overwrite=False)
    assert manifest.done == {1: {"image": "./1.png", "class": 1}}


def test_a_model_is_known_by_its_files_size_and_sha256_else_by_its_scores_on_a_ramp(models):
    """What the manifest records of the model (a change redoes every map): a file's size and
    SHA-256; a model built in memory, its name, input shape and the SHA-256 of its scores on
    the ramp 0..1 over its input; either way, its preprocessing."""
    model = xaikit.load_model(models["grey"])
    data = Path(models["grey"]).read_bytes()
    preprocessing = dataclasses.asdict(model.preprocessing)
    assert model_fingerprint(models["grey"], model) == {
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "preprocessing": preprocessing}
    ramp = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8) / 63
    scores = hashlib.sha256(model.predict(ramp).tobytes()).hexdigest()
    assert model_fingerprint(model, model) == {
        "name": model.name, "input_shape": [1, 8, 8], "preprocessing": preprocessing,
        "probe_sha256": scores}
