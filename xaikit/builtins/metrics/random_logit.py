"""Random logit (Sixt et al., 2020, When Explanations Lie, arXiv:1912.09818).

The structural similarity (SSIM) of the map of the class explained with the map of
another class, drawn at random from the image's seed, each map's pixel magnitudes
scaled to [0, 1]. A map that explains the class should change with it: lower is better.
Costs one explanation per image.
"""

from __future__ import annotations

from typing import List

import numpy as np

import xaikit

from .similarity import ssim


class RandomLogit(xaikit.Metric):
    """SSIM of the class's map with the map of a random other class."""

    name = "random-logit"
    description = ("sanity check: similarity to the map of a random other class; "
                   "lower is better")
    higher_is_better = False

    def evaluate(self, batch: xaikit.MetricBatch, params) -> List[xaikit.Score]:
        classes = batch.model.num_classes
        if classes < 2:
            raise xaikit.ModelError(f"model: {batch.model.name} has one class; random-logit "
                                    "needs another")
        others = [other_class(seed, c, classes)
                  for seed, c in zip(batch.seeds, batch.class_indices)]
        maps = batch.explain(batch.model, batch.images, others)
        return [xaikit.Score(ssim(a, b), detail={"other_class": other})
                for a, b, other in zip(batch.attributions, maps, others)]

    def cost(self, model, params) -> xaikit.Cost:
        return xaikit.Cost(explanations=1)


def other_class(seed: int, class_index: int, num_classes: int) -> int:
    """A class other than ``class_index``, drawn uniformly from ``seed``."""
    draw = int(np.random.default_rng(seed).integers(num_classes - 1))
    return draw + (draw >= class_index)


@xaikit.hookimpl
def register_metrics(register):
    register(RandomLogit())
