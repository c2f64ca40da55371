"""SmoothGrad (Smilkov et al., 2017) with the parameters of NNC's XAI/SmoothGrad plugin:
the engine's input gradients of noisy copies, as ``gradient`` smoothed with
``smoothgrad_sq`` gives them."""

from __future__ import annotations

from typing import Literal, Optional, Sequence

import numpy as np
from pydantic import Field

import xaikit


class SmoothGrad(xaikit.Explainer):
    """Average the squared input gradients of the class score over noisy copies of the image."""

    name = "smoothgrad"
    description = "SmoothGrad: input gradients averaged over noisy copies (arXiv:1706.03825)"
    nnc_column = "SmoothGrad"

    class Params(xaikit.GradientParams):
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
        variant: Literal["smoothgrad_sq", "smoothgrad", "vargrad"] = Field(
            "smoothgrad_sq",
            description="The map: smoothgrad_sq, the mean squared gradient (NNC's); "
            "smoothgrad, the mean gradient; vargrad, the gradients' variance.",
        )
        seed: Optional[int] = Field(
            None,
            ge=0,
            le=2**32 - 1,
            description="Seed of the noise: the same seed gives the same noise at any "
            "batch size and thread count, and a bit-identical map at any thread count; "
            "every image of a run gets the same seed. Default: fresh noise each run.",
        )

    def explain(self, model, image, class_index, params) -> np.ndarray:
        return self.explain_batch(model, image[None], [class_index], params)[0]

    def explain_batch(
        self, model, images: np.ndarray, class_indices: Sequence[int], params
    ) -> np.ndarray:
        """Noisy copies of all ``images`` share passes; each image gets the noise, and up
        to float rounding the map, that :meth:`explain` gives it."""
        smoothing = xaikit.Smoothing(params.num_samples, params.noise_level, params.variant,
                                     params.seed)
        return xaikit.smoothed_gradients(model, images, [int(c) for c in class_indices],
                                         smoothing, **params.engine_options())
