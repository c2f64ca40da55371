"""Reading NNC dataset CSVs: headers, paths, labels, and the one-line errors for bad files."""

import re

import pytest

import xaikit
from xaikit.datasets.nnc_csv import label_class, read_dataset_csv
from xaikit.testing import make_dataset_csv


def test_header_names_before_the_colon_and_vector_columns_in_order(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("y__1:dog,x:image,y__0:cat,y':label\n0.2,a.png,0.8,1\n")
    data = read_dataset_csv(path)
    assert data.image_column == 1 and data.label_columns == [2, 0]
    assert data.label_cells(0) == ["0.8", "0.2"]
    assert read_dataset_csv(path, label_variable="y'").label_columns == [3]


def test_bom_crlf_blank_lines_and_quoted_cells(tmp_path):
    path = tmp_path / "windows.csv"
    path.write_bytes(b'\xef\xbb\xbfx:image,y:label\r\n"./a, b.png",2\r\n\r\n./c.png,1\r\n')
    data = read_dataset_csv(path)
    assert data.header == ["x:image", "y:label"]
    assert data.rows == [["./a, b.png", "2"], ["./c.png", "1"]]
    assert data.image_path(0) == tmp_path / "a, b.png"


def test_paths_relative_to_the_csv_folder_absolute_and_windows_separators(tmp_path):
    path = tmp_path / "sub" / "data.csv"
    path.parent.mkdir()
    absolute = tmp_path / "elsewhere.png"
    path.write_text(f"x,y\n./img/a.png,0\nimg\\b.png,0\n{absolute},0\n")
    data = read_dataset_csv(path)
    assert [data.image_path(r) for r in range(3)] == [
        tmp_path / "sub" / "img" / "a.png", tmp_path / "sub" / "img" / "b.png", absolute]


def test_make_dataset_csv_writes_nested_images_and_both_label_forms(tmp_path):
    index = read_dataset_csv(make_dataset_csv(tmp_path / "a" / "d.csv", rows=4))
    assert index.header == ["x:image", "y:label"]
    assert index.rows[3] == ["./images/0/3.png", "0"]
    assert index.image_path(3).is_file()
    onehot = read_dataset_csv(make_dataset_csv(tmp_path / "b" / "d.csv", rows=4,
                                               num_classes=3, labels="onehot", mode="RGB"))
    assert onehot.header == ["x:image", "y__0:label 0", "y__1:label 1", "y__2:label 2"]
    assert onehot.label_cells(2) == ["0", "0", "1"]


@pytest.mark.parametrize("cells,num_classes,expected", [
    (["3"], 10, 3),
    (["3.0"], 10, 3),
    ([" 0 "], 2, 0),
    (["0", "0", "1"], 3, 2),  # one-hot
    (["0.1", "0.7", "0.2"], 3, 1),  # scores
    (["0.5", "0.5"], 2, 0),  # a tie: the first
    (["1"], 1, 0),  # binary classifier, one sigmoid output
    (["0", "1"], 1, 0),  # one-hot label, one output
    (["0", "1"], 5, 0),  # a vector whose length is not the output width: NNC's class 0
])
def test_label_class(cells, num_classes, expected):
    assert label_class(cells, num_classes) == expected


@pytest.mark.parametrize("cells,num_classes,reason", [
    (["10"], 10, "label 10 is out of range for a model with 10 classes (0 to 9)"),
    (["-1"], 10, "label -1 is out of range for a model with 10 classes (0 to 9)"),
    (["2.5"], 10, "label '2.5' is not a class index"),
    (["cat"], 10, "label 'cat' is not a number"),
    (["nan"], 10, "label 'nan' is not a number"),
    ([""], 10, "the label is empty"),
    (["1", "x"], 2, "label 'x' is not a number"),
])
def test_bad_labels_say_why(cells, num_classes, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        label_class(cells, num_classes)


@pytest.mark.parametrize("content,args,problem", [
    (None, {}, "no such file"),
    (b"", {}, "the file is empty"),
    (b"\n\n", {}, "the file is empty"),
    (b"x:image,y:label\n", {}, "no data rows after the header"),
    (b"./a.png,3\n./b.png,4\n", {},
     "the first line is not a header (it starts with './a.png'); NNC dataset CSVs start "
     "with variable names such as x:image,y:label"),
    (b"x:image,y:label\na.png,1\n", {"input_variable": "image"},
     "no variable 'image' for input_variable (variables: x, y)"),
    (b"x:image,t__0,t__1\na.png,1,0\n", {},
     "no variable 'y' for label_variable (variables: t, x)"),
    (b"x__0,x__1,y\na,b,1\n", {},
     "input_variable 'x' spans 2 columns; expected one column of image paths"),
    (b"x,y,x\na,1,b\n", {}, "column 'x' appears twice in the header"),
    (b"x,y__0,y__2\na,1,0\n", {},
     "the columns of label_variable 'y' are not numbered y__0 to y__1"),
    (b"x,y,y__0\na,1,0\n", {}, "label_variable 'y' is both a column and a vector (y__0...)"),
    (b"x,y\n\xff\xfe,1\n", {}, "not UTF-8 text (byte 4)"),
    (b"x,y\na\x00,1\n", {}, "not a CSV file: line contains NUL"),
])
def test_bad_csv_is_one_line_naming_the_file(tmp_path, content, args, problem):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(xaikit.DatasetError) as err:
        read_dataset_csv(path, **args)
    assert str(err.value) == f"input: {path}: {problem}"
