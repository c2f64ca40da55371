"""The map as a colour map blended over the image, at the image's own resolution."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from xaikit import Explanation, OutputError, Sink, hookimpl
from xaikit import Params as ParamsBase

from .pillow import save_image, writable_extensions


@lru_cache(maxsize=None)
def colour_table(colormap: str) -> np.ndarray:
    """uint8 (256, 3): ``colormap`` (a name in the ``cmap`` package's catalogue) sampled."""
    from cmap import Colormap

    return np.round(Colormap(colormap).lut(256)[:, :3] * 255).astype(np.uint8)


def scaled_magnitude(attribution: np.ndarray, percentile: float) -> np.ndarray:
    """Sum |attribution| over channels, scaled to 0-1 from its minimum to its ``percentile``.

    As Google's saliency library shows maps: values above the percentile are clipped, so a
    few extreme pixels do not darken the rest. A constant map is all 0.
    """
    if np.ndim(attribution) != 3:
        raise OutputError(f"a map of shape {np.shape(attribution)} is not a picture to lay "
                          "over the image; write it with the grey or npy sink", subject="output")
    magnitude = np.abs(np.asarray(attribution, dtype=np.float64)).sum(axis=0)
    lo, hi = magnitude.min(), np.percentile(magnitude, percentile)
    if hi <= lo:
        hi = magnitude.max()
    if hi <= lo:
        return np.zeros(magnitude.shape)
    return np.clip((magnitude - lo) / (hi - lo), 0.0, 1.0)


def colourise(scaled: np.ndarray, colormap: str) -> Image.Image:
    """An RGB image of a 0-1 map through ``colormap``."""
    return Image.fromarray(colour_table(colormap)[np.round(scaled * 255).astype(np.intp)], "RGB")


def blend(image: Image.Image, scaled: np.ndarray, colormap: str, alpha: float) -> Image.Image:
    """``image`` (RGB) with the 0-1 map, resized to it (bilinear), coloured over it."""
    resized = Image.fromarray(scaled.astype(np.float32), "F").resize(image.size, Image.BILINEAR)
    return Image.blend(image, colourise(np.clip(np.asarray(resized), 0.0, 1.0), colormap), alpha)


def base_image(explanation: Explanation) -> Image.Image:
    """The image the map explains, RGB at its own resolution; for a preprocessed input, the
    input stretched to 0-255."""
    if explanation.image is not None:
        return explanation.image.convert("RGB")
    pixels = np.asarray(explanation.input, dtype=np.float64)
    pixels = pixels.transpose(1, 2, 0) if len(pixels) == 3 else pixels.mean(axis=0)
    span = pixels.max() - pixels.min()
    stretched = (pixels - pixels.min()) / span if span > 0 else np.zeros(pixels.shape)
    return Image.fromarray(np.round(stretched * 255).astype(np.uint8)).convert("RGB")


class HeatmapSink(Sink):
    name = "heatmap"
    description = "colour map blended over the image at the image's resolution"
    extensions = writable_extensions("RGB")

    class Params(ParamsBase):
        alpha: float = Field(
            0.5,
            ge=0.0,
            le=1.0,
            allow_inf_nan=False,
            description="Opacity of the colour map over the image: 0 shows the image only, "
            "1 the map only.",
        )
        percentile: float = Field(
            99.0,
            gt=0.0,
            le=100.0,
            allow_inf_nan=False,
            description="Map values at or above this percentile get the top colour.",
        )
        colormap: str = Field(
            "inferno",
            description="Colour map from the cmap package's catalogue; inferno, "
            "viridis, cividis and magma are perceptually uniform and colour-blind safe.",
        )

        @field_validator("colormap")
        @classmethod
        def _known_colormap(cls, name: str) -> str:
            try:
                colour_table(name)
            except (ValueError, KeyError):
                raise PydanticCustomError(
                    "colormap", "not a colour map name (try inferno, viridis or cividis)"
                ) from None
            return name

    def write(self, explanation: Explanation, path: Path, params: HeatmapSink.Params) -> None:
        scaled = scaled_magnitude(explanation.attribution, params.percentile)
        save_image(blend(base_image(explanation), scaled, params.colormap, params.alpha), path)


@hookimpl
def register_sinks(register):
    register(HeatmapSink())
