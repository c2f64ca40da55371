"""NNC's output: the summed absolute attribution as an 8-bit grey image at the map's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from xaikit import OutputError, Params, Sink, hookimpl

from .pillow import save_image, writable_extensions


def grey_map(attribution: np.ndarray) -> np.ndarray:
    """NNC's grey map, byte for byte: sum |attribution| over channels, scale its 1st-99th
    percentile range (numpy's linear percentiles) to 0-1, clip, times 255, truncated.

    Computed in the map's own dtype with NNC's expression, so the same float map gives the
    same bytes. Where the percentiles coincide (a constant or mostly-zero map) NNC divides
    by zero; its bytes there are this limit: 255 above the percentile, 0 elsewhere.
    A map of an intermediate variable may have another shape: (channels, length) and
    (units,) maps are one row of pixels; maps of more than three axes are refused.
    """
    attribution = np.asarray(attribution)
    if not np.issubdtype(attribution.dtype, np.floating):
        attribution = attribution.astype(np.float32)
    if attribution.ndim not in (1, 2, 3):
        raise OutputError(f"a map of shape {attribution.shape} has no grey picture; write it "
                          "with the npy sink", subject="output")
    if attribution.ndim == 1:  # (units,): a pixel per unit
        magnitude = np.abs(attribution)[None]
    else:  # NNC's sum over channels; (channels, length) gives one row
        magnitude = np.atleast_2d(np.sum(np.abs(attribution), axis=0))
    vmax = np.percentile(magnitude, 99)
    vmin = np.percentile(magnitude, 1)
    if vmax <= vmin:
        return np.where(magnitude > vmax, 255, 0).astype(np.uint8)
    scaled = np.clip((magnitude - vmin) / (vmax - vmin), 0, 1)
    return (scaled * 255).astype(np.uint8)


class GreySink(Sink):
    name = "grey"
    description = "NNC's map: a grey image at the map's size, any format Pillow writes"
    extensions = writable_extensions("L")

    def write(self, explanation, path: Path, params: Params) -> None:
        save_image(Image.fromarray(grey_map(explanation.attribution), "L"), path)


@hookimpl
def register_sinks(register):
    register(GreySink())
