"""Attributing a chunk of dataset rows: the one step of a dataset run that needs the model.

:func:`attribute_chunk` reads and writes no file and no manifest; its arguments and
results pickle. It can run wherever the model is (another process, another machine)
while the caller reads the images and writes the maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import numpy as np

from xaikit.engine.model import LoadedModel
from xaikit.engine.noise import Smoothing
from xaikit.plugin.errors import XaikitError
from xaikit.plugin.explainer import Attribution, Explainer
from xaikit.plugin.params import Params
from xaikit.run.smoothing import attribute_images


@dataclass(frozen=True)
class RowInput:
    """A row to attribute: its number, its preprocessed image and its class."""

    row: int
    pixels: np.ndarray
    class_index: Optional[int]
    """None: the class the model predicts for the image."""


@dataclass(frozen=True)
class Attributed:
    """A row's attribution, and the model's score for its class."""

    row: int
    class_index: int
    attribution: Attribution
    score: float


@dataclass(frozen=True)
class Refused:
    """A row the explainer refused (an :class:`xaikit.XaikitError` it raised)."""

    row: int
    reason: str


Results = List[Union[Attributed, Refused]]
"""What :func:`attribute_chunk` returns: one result per row, in order."""


def attribute_chunk(explainer: Explainer, params: Params, model: LoadedModel,
                    rows: Sequence[RowInput], smoothing: Optional[Smoothing] = None) -> Results:
    """One result per row, in order: :meth:`Explainer.explain_batch` on the whole chunk
    (:meth:`Explainer.explain_smoothed` with ``smoothing``); when the explainer refuses the
    chunk, row by row, so that its error fails only the rows it is about. A row without a
    class is explained for its predicted class."""
    if not rows:
        return []
    images = np.stack([item.pixels for item in rows])
    scores = model.predict(images)
    classes = [int(np.argmax(s)) if item.class_index is None else item.class_index
               for item, s in zip(rows, scores)]
    try:
        results = attribute_images(explainer, model, images, classes, params, smoothing)
    except XaikitError as exc:
        if len(rows) == 1:
            return [Refused(rows[0].row, str(exc))]
        return [result for item, c in zip(rows, classes)
                for result in attribute_chunk(explainer, params, model,
                                              [RowInput(item.row, item.pixels, c)], smoothing)]
    return [Attributed(item.row, c, attribution, float(s[c]))
            for item, attribution, c, s in zip(rows, results, classes, scores)]
