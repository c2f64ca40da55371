"""A folder of images as a dataset: every image file under it, as an NNC dataset CSV lists them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import FrozenSet, List

from PIL import Image

from xaikit.datasets.nnc_csv import DatasetCSV
from xaikit.plugin.errors import DatasetError


def image_extensions() -> FrozenSet[str]:
    """The file extensions of the formats Pillow reads (``.png``, ``.jpg``...), lower case."""
    Image.init()
    return frozenset(ext.lower() for ext, kind in Image.registered_extensions().items()
                     if kind in Image.OPEN)


def folder_dataset(folder: Path, output: Path, input_variable: str = "x") -> DatasetCSV:
    """Every image file under ``folder`` (recursively, sorted by path; files of other
    extensions are left out) as a dataset of one column, ``<input_variable>:image``, whose
    paths are relative to the folder of ``output``, the run's CSV.

    The maps of the run (``output`` without its extension) are not part of the dataset,
    should they lie under ``folder``.

    :raises DatasetError: the folder holds no image file.
    """
    extensions = image_extensions()
    maps = os.path.abspath(output.with_suffix(""))
    found: List[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if os.path.abspath(os.path.join(root, d)) != maps]
        found += [Path(root) / name for name in files
                  if os.path.splitext(name)[1].lower() in extensions]
    if not found:
        raise DatasetError(f"no image files under the folder (formats: "
                           f"{', '.join(sorted(e[1:] for e in extensions)[:8])}...)",
                           subject="input", path=folder)
    found.sort(key=lambda path: path.relative_to(folder).as_posix())
    base = os.path.abspath(output.parent)
    rows = [[_relative(os.path.abspath(path), base)] for path in found]
    return DatasetCSV(output, [f"{input_variable}:image"], rows, 0, [])


def _relative(path: str, base: str) -> str:
    """``path`` from ``base`` as NNC writes it (``./images/a.png``); absolute on another drive."""
    try:
        relative = Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # Windows: another drive
        return Path(path).as_posix()
    return relative if relative.startswith("../") else "./" + relative
