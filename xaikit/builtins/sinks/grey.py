"""NNC's output: the summed absolute attribution as an 8-bit grey PNG at the input size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from xaikit import Params, Sink, hookimpl


def grey_map(attribution: np.ndarray) -> np.ndarray:
    """Sum |attribution| over channels and scale its 1st-99th percentile range to 0-255.

    A map whose percentiles coincide is scaled by its full range instead; a constant
    map (a zero gradient, say) is black.
    """
    magnitude = np.abs(np.asarray(attribution, dtype=np.float64)).sum(axis=0)
    lo, hi = np.percentile(magnitude, [1, 99])
    if hi <= lo:
        lo, hi = magnitude.min(), magnitude.max()
    if hi <= lo:
        return np.zeros(magnitude.shape, dtype=np.uint8)
    scaled = np.clip((magnitude - lo) / (hi - lo), 0.0, 1.0)
    return np.round(scaled * 255).astype(np.uint8)


class GreySink(Sink):
    name = "grey"
    description = "NNC's map: grey PNG at the network's input size"
    extensions = (".png",)

    def write(self, explanation, path: Path, params: Params) -> None:
        Image.fromarray(grey_map(explanation.attribution), "L").save(path, format="PNG")


@hookimpl
def register_sinks(register):
    register(GreySink())
