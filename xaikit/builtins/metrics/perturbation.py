"""What the perturbation metrics share: baselines that stand in for removed pixels, and
pixels ranked by a map."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from scipy import ndimage

import xaikit

Baseline = Literal["black", "blur", "mean"]


class PerturbationParams(xaikit.Params):
    """What replaces a removed pixel."""

    baseline: Baseline = Field(
        "black",
        description="What a removed pixel becomes: black (zero in the network's input), "
        "blur (the image blurred) or mean (the image's mean, per channel).",
    )
    blur_sigma: float = Field(
        5.0,
        gt=0.0,
        le=1000.0,
        allow_inf_nan=False,
        description="Standard deviation in pixels of the Gaussian blur of baseline blur.",
    )


def baselines(images: np.ndarray, params: PerturbationParams) -> np.ndarray:
    """Each image's baseline, float32 of ``images``' shape ``(n, C, H, W)``."""
    if params.baseline == "black":
        return np.zeros_like(images, dtype=np.float32)
    if params.baseline == "mean":
        means = images.mean(axis=(2, 3), keepdims=True, dtype=np.float64)
        return np.broadcast_to(means, images.shape).astype(np.float32)
    sigma = (0, 0, params.blur_sigma, params.blur_sigma)
    return ndimage.gaussian_filter(images.astype(np.float64), sigma, mode="nearest").astype(
        np.float32)


def relevance(attribution: np.ndarray) -> np.ndarray:
    """A pixel's relevance: the map summed over channels, flattened ``(H * W,)``."""
    return attribution.sum(axis=0, dtype=np.float64).ravel()


def ranking(attribution: np.ndarray) -> np.ndarray:
    """Pixel indices (into ``H * W``), most relevant first; ties in raster order."""
    return np.argsort(-relevance(attribution), kind="stable")
