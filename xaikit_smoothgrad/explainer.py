"""SmoothGrad (Smilkov et al., 2017) with the parameters of NNC's XAI/SmoothGrad plugin."""

from __future__ import annotations

from typing import Optional

import numpy as np
from pydantic import Field

import xaikit

from .kernel import noisy_gradients


class SmoothGrad(xaikit.Explainer):
    """Average the squared input gradients of the class score over noisy copies of the image."""

    name = "smoothgrad"
    description = "SmoothGrad: input gradients averaged over noisy copies (arXiv:1706.03825)"

    class Params(xaikit.Params):
        noise_level: float = Field(
            0.15,
            ge=0.0,
            le=1.0,
            allow_inf_nan=False,
            description="Noise standard deviation as a fraction of the preprocessed image's "
            "value range (max - min).",
            json_schema_extra={"aliases": ["-nl"]},
        )
        num_samples: int = Field(
            25,
            ge=1,
            description="Noisy copies whose gradients are averaged.",
            json_schema_extra={"aliases": ["-n"]},
        )
        seed: Optional[int] = Field(
            None,
            ge=0,
            description="Seed of the noise; the same seed gives a bit-identical map. "
            "Default: fresh noise each run.",
        )
        batch_size: int = Field(
            32,
            ge=1,
            description="Noisy copies evaluated per forward/backward pass.",
        )

    def explain(self, model, image, class_index, params) -> np.ndarray:
        moments = noisy_gradients(
            model,
            image,
            class_index,
            noise_level=params.noise_level,
            num_samples=params.num_samples,
            batch_size=params.batch_size,
            seed=params.seed,
        )
        return moments.mean_sq().astype(np.float32)
