"""The manifest of a dataset run: what it keeps, and what it says when settings change."""

import json

import pytest

from xaikit.datasets.manifest import FORMAT, Manifest

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
