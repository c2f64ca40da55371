"""Several sinks and classes in one run: which files, under which names."""

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import xaikit
from xaikit.plugin.manager import registry
from xaikit.run import outputs
from xaikit.run.outputs import output_path, write_atomically


def sink(name):
    return registry().get("sink", name)


@pytest.mark.parametrize("output,name,class_index,several,expected", [
    ("out/map.png", "grey", None, False, "out/map.png"),  # NNC's output, unchanged
    ("map.png", "heatmap", None, True, "map.heatmap.png"),
    ("map.png", "grey", 3, False, "map.class3.png"),
    ("map.png", "panel", 3, True, "map.class3.panel.png"),
    ("map.png", "npy", None, True, "map.npy.npy"),  # a name made: npy's extension
    ("map.JPG", "heatmap", None, False, "map.JPG"),
    ("map.v2.jpg", "grey", 5, True, "map.v2.class5.grey.jpg"),
    ("map.v2.jpg", "npy", 5, True, "map.v2.class5.npy.npy"),
    ("map", "heatmap", 2, False, "map.class2.png"),
])
def test_naming_rule(output, name, class_index, several, expected):
    assert output_path(output, sink(name), class_index, several) == Path(expected)


@pytest.mark.parametrize("output,name,message", [
    ("map.png", "npy", "output: map.png: the npy sink writes .npy, not .png; name the output "
                       "map.npy"),
    ("map", "heatmap", "output: map: the heatmap sink writes .png, .jpg, .jpeg, .bmp, .tif, "
                       "..., not files without an extension; name the output map.png"),
])
def test_a_name_given_is_never_changed(output, name, message):
    with pytest.raises(xaikit.XaikitError) as error:
        output_path(output, sink(name))
    assert str(error.value) == message


def test_save_refuses_an_extension_its_sink_does_not_write(two_classes, tmp_path):
    with pytest.raises(xaikit.XaikitError, match="the npy sink writes .npy, not .png"):
        two_classes[0].save(tmp_path / "map.png", sink="npy")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def two_classes(models, images):
    return xaikit.explain("smoothgrad", model=models["grey"], image=images["grey"],
                          class_index=[2, 0], num_samples=3, seed=0)


def test_one_sink_one_class_writes_the_name_given(two_classes, tmp_path):
    written = xaikit.write_outputs(two_classes[0], tmp_path / "map.png")
    assert [(w.path, w.sink) for w in written] == [(tmp_path / "map.png", "grey")]
    assert written[0].explanation is two_classes[0]


def test_several_sinks_at_once(two_classes, tmp_path):
    written = xaikit.write_outputs(two_classes[0], tmp_path / "map.png",
                                   ["grey", "heatmap", "panel", "npy"],
                                   {"heatmap": {"alpha": 1.0}, "panel": {"tile_size": 64}})
    assert [w.path.name for w in written] == ["map.grey.png", "map.heatmap.png",
                                              "map.panel.png", "map.npy.npy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(w.path.name for w in written)
    modes = [Image.open(w.path).mode for w in written[:3]]
    assert modes == ["L", "RGB", "RGB"]
    assert Image.open(written[2].path).width == 3 * 64 + 4 * 8
    np.testing.assert_array_equal(np.load(written[3].path), two_classes[0].attribution)


def test_several_classes_and_sinks_are_named_by_class(two_classes, tmp_path):
    written = xaikit.write_outputs(two_classes, tmp_path / "map.png", ["grey", "npy"])
    assert [(w.path.name, w.explanation.class_index) for w in written] == [
        ("map.class2.grey.png", 2), ("map.class2.npy.npy", 2),
        ("map.class0.grey.png", 0), ("map.class0.npy.npy", 0)]
    for w in written[1::2]:
        np.testing.assert_array_equal(np.load(w.path), w.explanation.attribution)


def test_the_same_class_twice_is_refused_before_writing(two_classes, tmp_path):
    with pytest.raises(xaikit.XaikitError, match="two explanations of one class"):
        xaikit.write_outputs([two_classes[0], two_classes[0]], tmp_path / "map.png")
    assert list(tmp_path.iterdir()) == []


def test_parameters_for_a_sink_not_chosen_are_refused(two_classes, tmp_path):
    with pytest.raises(xaikit.ParameterError, match="heatmap_alpha: the heatmap sink is not "
                                                    "chosen; add --sink heatmap"):
        xaikit.write_outputs(two_classes[0], tmp_path / "map.png", ["grey"],
                             {"heatmap": {"alpha": 0.2}})
    with pytest.raises(xaikit.ParameterError, match="panel_tile_size: Input should be greater"):
        xaikit.write_outputs(two_classes[0], tmp_path / "map.png", ["panel"],
                             {"panel": {"tile_size": 3}})
    assert list(tmp_path.iterdir()) == []


def test_an_atomic_write_goes_through_a_hidden_file_and_gets_ordinary_permissions(tmp_path):
    path, used = tmp_path / "map.png", []

    def write(tmp):
        used.append(tmp)
        tmp.write_bytes(b"picture")

    mask = os.umask(0o022)
    try:
        write_atomically(path, write)
    finally:
        os.umask(mask)
    (tmp,) = used
    assert tmp.parent == tmp_path and tmp.name.startswith(".map.") and tmp.suffix == ".png"
    assert path.read_bytes() == b"picture" and not tmp.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # 0o666 less the umask


def test_reading_the_umask_leaves_it_as_it_was():
    mask = os.umask(0o027)
    try:
        assert outputs._umask() == 0o027
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(mask)


def test_an_output_inside_a_file_gives_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(xaikit.XaikitError) as error:
        write_atomically(tmp_path / "file" / "map.png", lambda tmp: None)
    assert str(error.value) == f"output: cannot write {tmp_path}/file/map.png: File exists"
