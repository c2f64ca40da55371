"""The input gradient of the class score (a saliency map: Simonyan et al., 2014,
arXiv:1312.6034), on the engine; smoothed, it is SmoothGrad."""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

import xaikit


class Gradient(xaikit.Explainer):
    """d score / d input: how strongly each input value moves the class score."""

    name = "gradient"
    description = "Gradient: the input gradient of the class score (arXiv:1312.6034)"
    nnc_column = "Gradient"
    Params = xaikit.GradientParams

    def explain(self, model, image, class_index, params) -> np.ndarray:
        return self.explain_batch(model, image[None], [class_index], params)[0]

    def explain_batch(self, model, images: np.ndarray, class_indices: Sequence[int],
                      params) -> np.ndarray:
        return xaikit.input_gradients(model, images, class_indices, **params.engine_options())

    def explain_smoothed(self, model, images: np.ndarray, class_indices: Sequence[int],
                         params, smoothing: xaikit.Smoothing) -> List[xaikit.Attribution]:
        """The engine's kernel: each pass draws its noisy copies and adds up their
        gradients in the thread that runs it (SmoothGrad's speed, and its maps)."""
        return xaikit.Attribution.each(xaikit.smoothed_gradients(
            model, images, [int(c) for c in class_indices], smoothing,
            **params.engine_options()))


@xaikit.hookimpl
def register_explainers(register):
    register(Gradient())
