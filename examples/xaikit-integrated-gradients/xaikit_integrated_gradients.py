"""Integrated Gradients (Sundararajan et al., ICML 2017, arXiv:1703.01365) as an xaikit plugin.

The attribution of pixel i is ``(x_i - x'_i)`` times the average of ``d score / d x_i``
along the straight path from a baseline ``x'`` to the image ``x``. The average is a
midpoint Riemann sum over ``steps`` points; by completeness the attributions sum to
``score(x) - score(x')``, and the explanation's metadata reports how far they are from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

import xaikit

__all__ = ["BASELINES", "IntegratedGradients", "make_baseline"]

BASELINES = ("black", "white", "blur", "uniform-noise")
"""The named baselines; any other value of ``baseline`` is an image file."""


class IntegratedGradients(xaikit.Explainer):
    """Average input gradients on the path from a baseline, times the image minus it."""

    name = "integrated-gradients"
    description = "Integrated Gradients: gradients integrated from a baseline (arXiv:1703.01365)"

    class Params(xaikit.Params):
        steps: int = Field(
            50,
            ge=1,
            description="Points on the path from the baseline to the image whose gradients "
            "are averaged; more points, smaller completeness gap.",
        )
        baseline: str = Field(
            "black",
            description="Where the path starts: black, white, blur (the image blurred), "
            "uniform-noise, or an image file (image).",
        )
        blur_sigma: float = Field(
            5.0,
            gt=0.0,
            allow_inf_nan=False,
            description="Standard deviation in pixels of the Gaussian blur of baseline blur.",
        )
        seed: Optional[int] = Field(
            None,
            ge=0,
            description="Seed of baseline uniform-noise. Default: fresh noise each run.",
        )
        batch_size: int = Field(
            32,
            ge=1,
            description="Path points evaluated per forward/backward pass.",
        )

        @field_validator("baseline")
        @classmethod
        def _named_or_a_file(cls, value: str) -> str:
            if value in BASELINES or Path(value).is_file():
                return value
            raise PydanticCustomError(
                "baseline", "expected black, white, blur, uniform-noise or an image file")

    def explain(self, model, image, class_index, params) -> xaikit.Attribution:
        baseline = make_baseline(model, image, params)
        difference = image - baseline
        alphas = (np.arange(params.steps) + 0.5) / params.steps
        path = (baseline + alpha * difference for alpha in alphas)
        total = np.zeros(image.shape, dtype=np.float64)
        for gradients in xaikit.input_gradients_in_batches(model, path, class_index,
                                                           params.batch_size):
            total += gradients.sum(axis=0, dtype=np.float64)
        attribution = difference * (total / params.steps)
        score, baseline_score = model.predict(np.stack([image, baseline]))[:, class_index]
        attribution_sum = float(attribution.sum())
        return xaikit.Attribution(attribution, {
            "score": float(score),
            "baseline_score": float(baseline_score),
            "attribution_sum": attribution_sum,
            "completeness_gap": attribution_sum - float(score - baseline_score),
        })


def make_baseline(model: xaikit.LoadedModel, image: np.ndarray, params) -> np.ndarray:
    """The path's start for ``image``, preprocessed as ``model`` expects (float32 C, H, W)."""
    if params.baseline == "black":
        return np.zeros(image.shape, dtype=np.float32)
    if params.baseline == "white":
        return _white(model)
    if params.baseline == "blur":
        return gaussian_blur(image, params.blur_sigma)
    if params.baseline == "uniform-noise":
        noise = np.random.default_rng(params.seed).random(image.shape)
        return (noise * _white(model)).astype(np.float32)
    try:
        return xaikit.load_image(params.baseline, model)
    except xaikit.ImageError as exc:
        raise xaikit.ParameterError(exc.reason, subject="baseline", path=exc.path) from None


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Each channel of ``image`` (C, H, W) blurred with a Gaussian of ``sigma`` pixels;
    edges are extended."""
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    out = image.astype(np.float64)
    for axis in (1, 2):
        pad = [(radius, radius) if a == axis else (0, 0) for a in range(3)]
        padded = np.pad(out, pad, mode="edge")
        size = out.shape[axis]
        out = sum(w * np.take(padded, np.arange(i, i + size), axis=axis)
                  for i, w in enumerate(kernel))
    return out.astype(np.float32)


def _white(model: xaikit.LoadedModel) -> np.ndarray:
    _, height, width = model.input_shape
    return xaikit.load_image(Image.new("RGB", (width, height), "white"), model)


@xaikit.hookimpl
def register_explainers(register):
    register(IntegratedGradients())
