"""MuFidelity (Bhatt et al., 2020, IJCAI, arXiv:2005.00631).

Over ``samples`` random subsets of the image (``subset_fraction`` of the cells of a
``grid`` x ``grid`` grid, each subset drawn from the image's seed), the correlation
between the map summed over the subset and the drop of the class score when the subset
is replaced by a baseline. Higher is better: a faithful map predicts which removals hurt.
``samples + 1`` forward passes per image, batched.
"""

from __future__ import annotations

from typing import List

import numpy as np
from pydantic import Field

import xaikit

from .perturbation import PerturbationParams, baselines, relevance
from .similarity import pearson


class MuFidelity(xaikit.Metric):
    """Correlation of the map's sum over random subsets with the score drop they cause."""

    name = "mufidelity"
    description = "correlation of map sums over random subsets with their score drops"
    higher_is_better = True

    class Params(PerturbationParams):
        samples: int = Field(
            128,
            ge=2,
            le=100_000,
            description="Random subsets removed, each in a forward pass.",
        )
        subset_fraction: float = Field(
            0.2,
            gt=0.0,
            lt=1.0,
            allow_inf_nan=False,
            description="Chance that a grid cell is in a subset.",
        )
        grid: int = Field(
            9,
            ge=1,
            le=1024,
            description="Cells per side of the grid subsets are made of (at most the "
            "image's height and width).",
        )

    def evaluate(self, batch: xaikit.MetricBatch, params) -> List[float]:
        n, (_, height, width) = len(batch), batch.images.shape[1:]
        masks = np.stack([self._masks(seed, height, width, params) for seed in batch.seeds])
        replaced = baselines(batch.images, params)

        def inputs():
            for image, baseline, removed in zip(batch.images, replaced, masks):
                yield image
                for mask in removed:
                    yield np.where(mask, baseline, image)

        classes = np.repeat(batch.class_indices, params.samples + 1)
        scores = batch.scores(inputs(), classes).reshape(n, params.samples + 1)
        drops = scores[:, :1] - scores[:, 1:]
        values = []
        for attribution, removed, drop in zip(batch.attributions, masks, drops):
            sums = removed.reshape(params.samples, -1).astype(np.float64) @ relevance(attribution)
            values.append(pearson(sums, drop))
        return values

    @staticmethod
    def _masks(seed: int, height: int, width: int, params) -> np.ndarray:
        """``samples`` boolean ``(H, W)`` masks of removed pixels, made of grid cells."""
        grid = params.grid
        cells = np.random.default_rng(seed).random((params.samples, grid, grid))
        cells = cells < params.subset_fraction
        rows = np.arange(height) * min(grid, height) // height
        columns = np.arange(width) * min(grid, width) // width
        return cells[:, rows][:, :, columns]

    def cost(self, model, params) -> xaikit.Cost:
        return xaikit.Cost(forward=params.samples + 1)


@xaikit.hookimpl
def register_metrics(register):
    register(MuFidelity())
