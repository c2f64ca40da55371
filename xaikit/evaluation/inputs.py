"""What an evaluation runs on: one image, every row of a dataset CSV, or a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

from PIL import Image

from xaikit.datasets.nnc_csv import label_class, read_dataset_csv
from xaikit.plugin.errors import DatasetError


@dataclass(frozen=True)
class Item:
    """One image to evaluate on."""

    name: str
    """The image as the report names it: the path given, the CSV's cell, or the path
    within the folder."""
    path: Path
    class_index: Optional[int] = None
    """The row's label in a CSV; None elsewhere (the run's class is used)."""
    error: str = ""
    """Why the item cannot be evaluated (a bad label), or empty."""


def read_items(
    source: Union[str, "os.PathLike[str]"],
    num_classes: int,
    input_variable: str = "x",
    label_variable: str = "y",
) -> List[Item]:
    """The images ``source`` names: itself, a CSV's rows (with their labels) or a folder's
    images.

    :raises DatasetError: the source is missing, an unreadable CSV, or holds no images.
    """
    path = Path(source)
    if path.is_dir():
        items = [Item(image.relative_to(path).as_posix(), image) for image in image_files(path)]
        if not items:
            raise DatasetError("the folder holds no images", subject="input", path=path)
        return items
    if path.suffix.lower() == ".csv":
        data = read_dataset_csv(path, input_variable, label_variable)
        items = []
        for row in range(len(data.rows)):
            try:
                label = label_class(data.label_cells(row), num_classes)
                items.append(Item(data.image_cell(row), data.image_path(row), label))
            except ValueError as exc:
                items.append(Item(data.image_cell(row), data.image_path(row), error=str(exc)))
        return items
    if not path.is_file():
        raise DatasetError("no such image, CSV or folder", subject="input", path=path)
    return [Item(os.fspath(source), path)]


def image_files(folder: Path) -> List[Path]:
    """The files under ``folder``, at any depth, whose extension Pillow reads; sorted."""
    readable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in readable and p.is_file())
