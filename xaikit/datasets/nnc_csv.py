"""Neural Network Console dataset CSVs: their header, image paths and labels.

A header cell is ``name:description`` or ``name`` (``x:image,y:label``); a vector variable
spans columns ``y__0,y__1,...``. Files may start with a UTF-8 byte-order mark and end lines
with CRLF. Image paths are relative to the CSV's folder unless absolute.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Sequence, Union

from xaikit.plugin.errors import DatasetError
from xaikit.run.outputs import write_atomically

_VECTOR_CELL = re.compile(r"^(.*)__(\d+)$")


@dataclass(frozen=True)
class DatasetCSV:
    """A dataset CSV as read: header and rows verbatim, and where the run's variables are."""

    path: Path
    header: List[str]
    rows: List[List[str]]
    """Data rows without blank lines; a row's index is its number in map names and reports."""
    image_column: int
    label_columns: List[int]
    """One column for a class index, several (``y__0...``) for a one-hot or score vector."""

    def image_cell(self, row: int) -> str:
        """The image path of ``row`` as written (empty when the row is short)."""
        cells = self.rows[row]
        return cells[self.image_column].strip() if self.image_column < len(cells) else ""

    def image_path(self, row: int) -> Path:
        """The image of ``row``: relative paths start at the CSV's folder."""
        cell = self.image_cell(row)
        if os.sep == "/":
            cell = cell.replace("\\", "/")  # written on Windows
        path = Path(cell)
        return path if path.is_absolute() else self.path.parent / path

    def label_cells(self, row: int) -> List[str]:
        """The label cells of ``row`` (empty strings where the row is short)."""
        cells = self.rows[row]
        return [cells[i] if i < len(cells) else "" for i in self.label_columns]


def read_dataset_csv(
    path: Union[str, "os.PathLike[str]"], input_variable: str = "x", label_variable: str = "y"
) -> DatasetCSV:
    """Read ``path`` and find its image and label variables.

    :raises DatasetError: naming the file and the problem: missing or empty file, no header,
        a variable that is not there or spans the wrong columns, no data rows.
    """
    path = Path(path)
    table = _read_table(path)
    if not table:
        raise DatasetError("the file is empty", subject="input", path=path)
    header, rows = table[0], table[1:]
    image = variable_columns(header, input_variable, "input_variable", path)
    if len(image) != 1:
        raise DatasetError(f"input_variable {input_variable!r} spans {len(image)} columns; "
                           "expected one column of image paths", subject="input", path=path)
    labels = variable_columns(header, label_variable, "label_variable", path)
    if not rows:
        raise DatasetError("no data rows after the header", subject="input", path=path)
    return DatasetCSV(path, header, rows, image[0], labels)


def variable_columns(header: Sequence[str], variable: str, param: str, path: Path) -> List[int]:
    """Positions of ``variable``: its one column, or its ``__0, __1...`` columns in order."""
    names = [cell.split(":", 1)[0].strip() for cell in header]
    twice = [name for name, count in Counter(names).items() if name and count > 1]
    if twice:
        raise DatasetError(f"column {twice[0]!r} appears twice in the header",
                           subject="input", path=path)
    if variable in names:
        if any(_vector_name(n)[0] == variable for n in names):
            raise DatasetError(f"{param} {variable!r} is both a column and a vector "
                               f"({variable}__0...)", subject="input", path=path)
        return [names.index(variable)]
    vector = {}
    for position, name in enumerate(names):
        base, index = _vector_name(name)
        if base == variable:
            vector[index] = position
    if not vector:
        raise DatasetError(_missing_variable(names, variable, param), subject="input",
                           path=path)
    if sorted(vector) != list(range(len(vector))):
        raise DatasetError(f"the columns of {param} {variable!r} are not numbered "
                           f"{variable}__0 to {variable}__{len(vector) - 1}",
                           subject="input", path=path)
    return [vector[i] for i in range(len(vector))]


def label_class(cells: Sequence[str], num_classes: int) -> int:
    """The class a row's label names, for a model with ``num_classes`` outputs.

    One cell is a class index; several cells are a one-hot or score vector, whose argmax
    is the class. As in NNC, a label vector whose length differs from the model's output
    width (a binary classifier with one sigmoid output) gives class 0, and so does any
    label of a one-output model.

    :raises ValueError: saying what is wrong with the label.
    """
    values = [_number(cell) for cell in cells]
    if num_classes == 1 or (len(values) > 1 and len(values) != num_classes):
        return 0
    if len(values) > 1:
        return max(range(len(values)), key=values.__getitem__)
    value = values[0]
    if value != int(value):
        raise ValueError(f"label {cells[0].strip()!r} is not a class index")
    if not 0 <= value < num_classes:
        raise ValueError(f"label {int(value)} is out of range for a model with {num_classes} "
                         f"classes (0 to {num_classes - 1})")
    return int(value)


def write_csv(path: Path, rows: Iterable[Sequence[str]]) -> None:
    """Write ``rows`` as NNC writes CSVs (``\\n`` line ends, minimal quoting), atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)

    write_atomically(path, write)


def _read_table(path: Path) -> List[List[str]]:
    if not path.is_file():
        raise DatasetError("no such file", subject="input", path=path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text (byte {exc.start})", subject="input",
                           path=path) from None
    except csv.Error as exc:
        raise DatasetError(f"not a CSV file: {exc}", subject="input", path=path) from None
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror or exc}", subject="input",
                           path=path) from None


def _vector_name(name: str):
    match = _VECTOR_CELL.match(name)
    return (match.group(1), int(match.group(2))) if match else (None, None)


def _missing_variable(names: List[str], variable: str, param: str) -> str:
    if any(_looks_like_data(name) for name in names):
        return (f"the first line is not a header (it starts with "
                f"{names[0]!r}); NNC dataset CSVs start with variable names such as "
                "x:image,y:label")
    variables = sorted({_vector_name(n)[0] or n for n in names})
    shown = [v if v.isprintable() else repr(v) for v in variables]  # one line, always
    return f"no variable {variable!r} for {param} (variables: {', '.join(shown)})"


def _looks_like_data(name: str) -> bool:
    """Header names are identifiers; paths and numbers mean the header is missing."""
    return any(c in name for c in "/\\.") or _is_number(name)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(cell: str) -> float:
    if not cell.strip():
        raise ValueError("the label is empty")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"label {cell.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"label {cell.strip()!r} is not a number")
    return value
