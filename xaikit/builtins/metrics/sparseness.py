"""Sparseness (Chalasani et al., 2020, ICML, arXiv:1810.06583): the Gini index of the
map's pixel magnitudes (``|map|`` summed over channels).

0 for a map that spreads importance evenly over every pixel, ``1 - 1/pixels`` for one
that puts it all on one pixel. Higher is sparser, which Chalasani et al. argue is easier
to read. No forward or backward pass.
"""

from __future__ import annotations

from typing import List

import numpy as np

import xaikit

from .similarity import magnitude


class Sparseness(xaikit.Metric):
    """The Gini index of the map's pixel magnitudes."""

    name = "sparseness"
    description = "Gini index of the map's magnitudes; 0 even, near 1 for one pixel"
    higher_is_better = True

    def evaluate(self, batch: xaikit.MetricBatch, params) -> List[float]:
        return [gini(magnitude(a)) for a in batch.attributions]


def gini(values: np.ndarray) -> float:
    """The Gini index of non-negative values; 0 when they are all zero."""
    ordered = np.sort(values.ravel())
    total = ordered.sum()
    if total == 0:
        return 0.0
    n = len(ordered)
    ranks = np.arange(1, n + 1)
    return float(np.sum((2 * ranks - n - 1) * ordered) / (n * total))


@xaikit.hookimpl
def register_metrics(register):
    register(Sparseness())
