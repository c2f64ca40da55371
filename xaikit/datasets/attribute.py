"""Attributing a chunk of dataset rows: the step that a dataset run's executors run.

It touches no file: rows arrive as preprocessed pixels with the class to explain, and
leave as attributions with the class and the model's score, so the same step runs in
the client's process or on a Dask worker (:mod:`xaikit.datasets.distributed`), and the
objects it takes and returns pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import XaikitError
from xaikit.plugin.explainer import Attribution, Explainer
from xaikit.plugin.params import Params


@dataclass(frozen=True)
class Item:
    """One row to explain."""

    row: int
    pixels: np.ndarray
    """float32 ``model.input_shape``, preprocessed."""
    class_index: Optional[int]
    """The class to explain; None: the class the model predicts for the row."""


@dataclass(frozen=True)
class Attributed:
    """A row's attribution, the class it explains and the model's score for that class."""

    row: int
    attribution: Attribution
    class_index: int
    score: float


@dataclass(frozen=True)
class Failed:
    """A row the explainer refused, and its message."""

    row: int
    reason: str


Outcome = Union[Attributed, Failed]


@dataclass(frozen=True)
class Chunk:
    """A block of rows to explain: what the explainer gets, and which maps to write."""

    items: List[Item]
    """The rows whose images were read."""
    rows: int
    """Rows of the block this run does, those whose images it could not read included."""


Executor = Callable[[Iterable[Chunk]], Iterator[Tuple[Chunk, List[Outcome]]]]
"""Explains chunks (read lazily, as it is ready for more), yielding each with its
outcomes, in any order."""


def attribute_chunk(
    algorithm: Explainer, params: Params, model: LoadedModel, items: Sequence[Item]
) -> List[Outcome]:
    """Explain ``items`` in one :meth:`Explainer.explain_batch` call, in their order.

    An explainer's :class:`XaikitError` fails only its row: a chunk that raises one is
    explained again row by row.
    """
    if not items:
        return []
    images = np.stack([item.pixels for item in items])
    scores = model.predict(images)
    classes = [int(np.argmax(s)) if item.class_index is None else item.class_index
               for item, s in zip(items, scores)]
    try:
        results = algorithm.explain_batch(model, images, classes, params)
    except XaikitError as exc:
        if len(items) == 1:
            return [Failed(items[0].row, str(exc))]
        return [outcome for item, c in zip(items, classes)
                for outcome in attribute_chunk(algorithm, params, model,
                                               [Item(item.row, item.pixels, c)])]
    return [Attributed(item.row, Attribution.of(result), c, float(s[c]))
            for item, result, c, s in zip(items, results, classes, scores)]
