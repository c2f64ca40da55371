"""Reading the images of a chunk of dataset rows, where the files are."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Sequence

from PIL import Image

from xaikit.datasets.attribute import RowInput
from xaikit.datasets.nnc_csv import DatasetCSV
from xaikit.datasets.result import RowFailure
from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import ImageError
from xaikit.run.images import load_image, read_image

WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
"""An absolute Windows path, as NNC on Windows writes image cells."""


@dataclass
class LoadedChunk:
    """A chunk's rows ready to attribute, their images as read, and the rows that failed."""

    inputs: List[RowInput] = field(default_factory=list)
    originals: Dict[int, Image.Image] = field(default_factory=dict)
    """Each row's image at its own resolution, for sinks that draw the map over it."""
    failures: List[RowFailure] = field(default_factory=list)


def load_chunk(data: DatasetCSV, rows: Sequence[int], classes: Mapping[int, int],
               model: LoadedModel) -> LoadedChunk:
    """Read and preprocess the image of each of ``rows``; an unreadable one fails its row."""
    chunk = LoadedChunk()
    for row in rows:
        path = data.image_path(row)
        cell = data.image_cell(row)
        try:
            original = read_image(path)
            chunk.inputs.append(RowInput(row, load_image(original, model), classes[row]))
            chunk.originals[row] = original
        except ImageError as exc:
            reason = exc.reason
            if WINDOWS_DRIVE.match(cell) and os.sep == "/" and not path.exists():
                reason += (": a Windows path from the machine that wrote the CSV; copy the "
                           "images here and give paths relative to the CSV's folder")
            chunk.failures.append(RowFailure(row, cell, reason))
    return chunk
