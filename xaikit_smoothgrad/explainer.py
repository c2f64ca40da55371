"""SmoothGrad (Smilkov et al., 2017) with the parameters of NNC's XAI/SmoothGrad plugin:
the engine's input gradients of noisy copies, as ``gradient`` smoothed with
``smoothgrad_sq`` gives them."""

from __future__ import annotations

from typing import List, Literal, Optional, Sequence

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
        num_samples: xaikit.SampleCount = Field(
            25,
            description="Noisy copies whose gradients are averaged (1 to 1000000), or auto: "
            "draw them until the map's stability reaches --stability, at most --max-samples.",
            json_schema_extra={"aliases": ["-n"]},
        )
        stability: float = Field(
            0.95,
            gt=0.0,
            lt=1.0,
            description="With --num-samples auto: the stability at which to stop, the "
            "correlation expected between this map and another made from other noise.",
        )
        max_samples: int = Field(
            1000,
            ge=2,
            le=1_000_000,
            description="With --num-samples auto: the most noisy copies drawn per image.",
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

    def explain(self, model, image, class_index, params) -> xaikit.Attribution:
        return self.explain_batch(model, image[None], [class_index], params)[0]

    def explain_batch(
        self, model, images: np.ndarray, class_indices: Sequence[int], params
    ) -> List[xaikit.Attribution]:
        """Noisy copies of all ``images`` share passes; each image gets the noise, and up
        to float rounding the map, that :meth:`explain` gives it. Each map reports its
        ``samples`` and ``stability`` (and with ``num_samples="auto"``, ``capped``)."""
        smoothing = xaikit.Smoothing(params.num_samples, params.noise_level, params.variant,
                                     params.seed, params.stability, params.max_samples)
        return xaikit.Attribution.each(xaikit.smoothed_gradients(
            model, images, [int(c) for c in class_indices], smoothing,
            **params.engine_options()))
