"""Grad-CAM (Selvaraju et al., ICCV 2017, arXiv:1610.02391) as an xaikit plugin.

The map for class c at a feature map A (channels k, positions i, j) is
``ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the spatial mean of ``d score_c / d A_k``,
upsampled bilinearly to the input size. NNC's XAI/GradCAM plugin instead takes the
mean over channels of ``ReLU(alpha_k A_k)``: ``variant="nnc"`` gives that map.
"""

from __future__ import annotations

from typing import List, Literal, Optional, Sequence

import numpy as np
from PIL import Image
from pydantic import Field

import xaikit

__all__ = ["GradCAM", "target_layer"]


class GradCAM(xaikit.Explainer):
    """Weight a convolutional feature map's channels by their mean gradient."""

    name = "gradcam"
    description = "Grad-CAM: feature-map channels weighted by their gradients (arXiv:1610.02391)"

    class Params(xaikit.Params):
        layer: Optional[str] = Field(
            None,
            description="Network variable whose feature maps are weighted (variable). "
            "Default: the last convolution's output.",
        )
        variant: Literal["paper", "nnc"] = Field(
            "paper",
            description="paper: ReLU of the weighted sum of channels (Selvaraju et al.); "
            "nnc: mean over channels of each weighted channel's ReLU (NNC's plugin).",
        )

    def explain(self, model, image, class_index, params) -> xaikit.Attribution:
        return self.explain_batch(model, image[None], [class_index], params)[0]

    def explain_batch(self, model, images, class_indices, params) -> List[xaikit.Attribution]:
        """One forward and backward pass for the whole batch."""
        layer = target_layer(model, params.layer)
        activations, gradients = xaikit.variable_gradients(model, images, class_indices, layer)
        weighted = gradients.mean(axis=(2, 3), keepdims=True) * activations
        if params.variant == "paper":
            maps = np.maximum(weighted.sum(axis=1), 0.0)
        else:
            maps = np.maximum(weighted, 0.0).mean(axis=1)
        return [xaikit.Attribution(upsample(m, model.input_shape), {"layer": layer})
                for m in maps]


def target_layer(model: xaikit.LoadedModel, requested: Optional[str]) -> str:
    """The variable to explain at: ``requested``, else the last convolution's output.

    :raises xaikit.ParameterError: naming the feature maps to choose from when
        ``requested`` is not one or when the network has no convolution.
    """
    variables = model.graph(1).variables
    maps = [layer for layer in model.layers if variables[layer.variable].ndim == 4]
    candidates = ", ".join(layer.variable for layer in maps) or "none"
    if requested is None:
        # Convolution, DepthwiseConvolution, FusedConvolution... (not Deconvolution)
        convolutions = [layer.variable for layer in maps if layer.function.endswith("Convolution")]
        if not convolutions:
            raise xaikit.ParameterError(f"layer: {model.name} has no convolution; name a "
                                        f"feature map with --layer; candidates: {candidates}")
        return convolutions[-1]
    if requested not in variables:
        raise xaikit.ParameterError(f"layer: no variable named {requested!r}; "
                                    f"candidates: {candidates}")
    shape = tuple(variables[requested].shape)
    if len(shape) != 4:
        raise xaikit.ParameterError(f"layer: {requested!r} has shape {shape[1:]}, not "
                                    f"(channels, height, width); candidates: {candidates}")
    return requested


def upsample(cam: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """A (h, w) map resized bilinearly to the input's height and width, one copy per channel."""
    channels, height, width = input_shape
    resized = Image.fromarray(cam.astype(np.float32), "F").resize((width, height),
                                                                  Image.BILINEAR)
    return np.repeat(np.asarray(resized, dtype=np.float32)[None], channels, axis=0)


@xaikit.hookimpl
def register_explainers(register):
    register(GradCAM())
