"""Deletion and insertion (Petsiuk et al., 2018, RISE, arXiv:1806.07421).

Pixels are taken in the order the map ranks them (its sum over channels, highest first)
in ``steps`` equal parts. *Deletion* replaces them in the image by a baseline, and the
class score should fall fast: the area under the score curve is lower for a better map.
*Insertion* puts them into the baseline, and the score should rise fast: the area is
higher for a better map. Each costs ``steps + 1`` forward passes per image, batched
across steps and images.
"""

from __future__ import annotations

from typing import ClassVar, Iterator, List

import numpy as np
from pydantic import Field

import xaikit

from .perturbation import PerturbationParams, baselines, ranking


class _CausalMetric(xaikit.Metric):
    """The score as ranked pixels move from one image to the other, and its area."""

    inserting: ClassVar[bool]

    class Params(PerturbationParams):
        steps: int = Field(
            20,
            ge=1,
            le=10_000,
            description="Parts the ranked pixels are moved in: the curve has steps + 1 "
            "points, from none moved to all.",
        )

    def evaluate(self, batch: xaikit.MetricBatch, params) -> List[xaikit.Score]:
        n, steps = len(batch), params.steps
        pixels = batch.images.shape[2] * batch.images.shape[3]
        counts = np.round(np.arange(steps + 1) * pixels / steps).astype(int)
        fractions = counts / pixels
        ends = baselines(batch.images, params)
        if self.inserting:
            starts, ends = ends, batch.images
        else:
            starts = batch.images
        orders = [ranking(a) for a in batch.attributions]
        classes = np.repeat(batch.class_indices, steps + 1)
        scores = batch.scores(_moves(starts, ends, orders, counts), classes).reshape(n, steps + 1)
        label = "fraction of pixels " + ("inserted" if self.inserting else "deleted")
        return [xaikit.Score(float(np.trapz(curve, fractions)),
                             xaikit.Curve(fractions.tolist(), curve.tolist(), label,
                                          "class score"))
                for curve in scores]

    def cost(self, model, params) -> xaikit.Cost:
        return xaikit.Cost(forward=params.steps + 1)


def _moves(starts: np.ndarray, ends: np.ndarray, orders: List[np.ndarray],
           counts: np.ndarray) -> Iterator[np.ndarray]:
    """For each image, ``start`` with its first ``counts[k]`` ranked pixels (every channel)
    taken from ``end``, for each ``k``."""
    for start, end, order in zip(starts, ends, orders):
        current = start.reshape(start.shape[0], -1).copy()
        source = end.reshape(end.shape[0], -1)
        for k, count in enumerate(counts):
            moved = order[counts[k - 1] if k else 0:count]
            current[:, moved] = source[:, moved]
            yield current.reshape(start.shape).copy()


class Deletion(_CausalMetric):
    """Area under the class score as the top-ranked pixels are deleted (lower is better)."""

    name = "deletion"
    description = "area under the score as top-ranked pixels are removed; lower is better"
    higher_is_better = False
    inserting = False


class Insertion(_CausalMetric):
    """Area under the class score as the top-ranked pixels are inserted into the baseline
    (higher is better)."""

    name = "insertion"
    description = "area under the score as top-ranked pixels are added; higher is better"
    higher_is_better = True
    inserting = True


@xaikit.hookimpl
def register_metrics(register):
    register(Deletion())
    register(Insertion())
