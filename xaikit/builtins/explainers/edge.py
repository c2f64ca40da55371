"""The ``edge`` control explainer: a Sobel edge map of the image, which ignores the model.

Edge detectors look like saliency maps; Adebayo et al. (2018, arXiv:1810.03292) showed
that some attribution methods are close to them. Model randomisation leaves this map
unchanged (a correlation of 1), the failure that sanity check exists to catch.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

import xaikit


class Edge(xaikit.Explainer):
    """Each channel's Sobel gradient magnitude; ignores the model and the class."""

    name = "edge"
    description = "control: Sobel edges of the image, ignoring the model"
    nnc_column = "Edge"

    def explain(self, model, image, class_index, params) -> np.ndarray:
        return sobel_magnitude(image)


def sobel_magnitude(image: np.ndarray) -> np.ndarray:
    """sqrt(Sobel_y^2 + Sobel_x^2) of each channel of a (C, H, W) image; edges reflected."""
    magnitudes = [np.hypot(ndimage.sobel(channel, axis=0, mode="reflect"),
                           ndimage.sobel(channel, axis=1, mode="reflect"))
                  for channel in image.astype(np.float64)]  # per channel: no smoothing across
    return np.stack(magnitudes).astype(np.float32)


@xaikit.hookimpl
def register_explainers(register):
    register(Edge())
