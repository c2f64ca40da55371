"""Model randomisation, cascading (Adebayo et al., 2018, Sanity Checks for Saliency Maps,
arXiv:1810.03292).

The model's parametric layers are randomised one after the other from the top (the
output) down, in a copy of the model loaded in a parameter scope of its own, so the model
everyone else uses is never touched; batch normalisation's running statistics keep their
values. After each layer the explainer draws the map again, and its Spearman rank
correlation with the original map (pixel magnitudes, ``|map|`` summed over channels) is
a point of the curve in the report's detail; the value is the correlation once every
layer is random. A map that explains the model must change: lower is better, and a map
that ignores the model (``edge``; ``random`` with a seed) stays at 1. Costs one
explanation per parametric layer per image.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

import xaikit

from .similarity import spearman


class Randomization(xaikit.Metric):
    """Rank correlation of the map with the map of the model randomised from the top."""

    name = "randomization"
    description = ("sanity check: rank correlation with the map of the model randomised "
                   "top-down; lower is better")
    higher_is_better = False

    def evaluate(self, batch: xaikit.MetricBatch, params) -> List[xaikit.Score]:
        twin = batch.model.copy()
        names, curves = [], []
        for index, (name, variables) in enumerate(reversed(parameter_layers(twin))):
            rng = np.random.default_rng([batch.seed, index])
            for variable in variables:
                variable.d = randomised(variable.d, rng)
            maps = batch.explain(twin, batch.images, batch.class_indices)
            curves.append([spearman(a, b) for a, b in zip(batch.attributions, maps)])
            names.append(name)
        if not curves:
            raise xaikit.ModelError(f"model: {batch.model.name} has no parameters to randomise")
        curves_by_image = np.array(curves).T
        return [xaikit.Score(float(curve[-1]),
                             xaikit.Curve(names, curve.tolist(), "layers randomised, top down",
                                          "Spearman correlation"))
                for curve in curves_by_image]

    def cost(self, model, params) -> xaikit.Cost:
        return xaikit.Cost(explanations=len(parameter_layers(model)))


STATISTICS = ("mean", "var")
"""Last parts of the names of batch normalisation's running statistics (nnabla's and
NNC's): measured, not learned, so never randomised (a random variance can be negative)."""


def parameter_layers(model: xaikit.LoadedModel) -> List[Tuple[str, List]]:
    """The model's learned parameters grouped by layer (``conv1/conv/W`` and
    ``conv1/conv/b`` are layer ``conv1/conv``), in the order the network uses them."""
    groups: Dict[str, List] = {}
    for name, variable in model.parameters().items():
        layer, _, last = name.rpartition("/")
        if last not in STATISTICS:
            groups.setdefault(layer or name, []).append(variable)
    return list(groups.items())


def randomised(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian values of the original's standard deviation (its mean magnitude if it is
    constant, 0.01 if it is zero)."""
    scale = float(np.std(values)) or float(np.abs(values).mean()) or 0.01
    return rng.normal(0.0, scale, values.shape).astype(np.float32)


@xaikit.hookimpl
def register_metrics(register):
    register(Randomization())
