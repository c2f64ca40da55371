"""The ``random`` control explainer: seeded uniform noise, the floor every map must beat.

A map that ranks pixels no better than chance scores like this one on deletion and
insertion; since it ignores the model, model randomisation leaves it unchanged (a
randomisation correlation of 1 with a fixed seed, the sanity-check failure).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from pydantic import Field

import xaikit


class RandomMap(xaikit.Explainer):
    """Uniform noise in [0, 1) of the input's shape; ignores the model, image and class."""

    name = "random"
    description = "control: seeded uniform noise, the floor of every metric"
    nnc_column = "Random"

    class Params(xaikit.Params):
        seed: Optional[int] = Field(
            None,
            ge=0,
            le=2**32 - 1,
            description="Seed of the noise; every image gets the same map for one seed. "
            "Default: fresh noise per image.",
        )

    def explain(self, model, image, class_index, params) -> np.ndarray:
        rng = np.random.default_rng(params.seed)
        return rng.random(model.input_shape, dtype=np.float32)


@xaikit.hookimpl
def register_explainers(register):
    register(RandomMap())
