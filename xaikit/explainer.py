"""The Explainer plugin kind: an attribution algorithm with a parameter schema."""

from __future__ import annotations

from typing import ClassVar, Optional, Sequence, Type

import numpy as np

from .model import LoadedModel
from .params import Params


class Explainer:
    """Base class of explainers.

    Subclasses set ``name`` (what users type after ``xaikit run``), ``description``
    (one line for listings) and a nested ``Params`` schema, and implement :meth:`explain`.
    They may set ``nnc_column``, the first column of a dataset run's output CSV (NNC's
    method name, ``SmoothGrad``); by default it is the class's name.
    One instance serves every call; parameters arrive validated, per call.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[Type[Params]] = Params
    nnc_column: ClassVar[Optional[str]] = None

    def explain(
        self, model: LoadedModel, image: np.ndarray, class_index: int, params: Params
    ) -> np.ndarray:
        """Attribute ``model``'s score for ``class_index`` to the pixels of ``image``.

        :param model: the classifier; ``model.graph(batch_size)`` gives a differentiable graph.
        :param image: one preprocessed input, float32 ``model.input_shape`` (C, H, W).
        :param class_index: the output entry to explain, already checked against the model.
        :param params: an instance of this explainer's ``Params``.
        :returns: float32 attribution of shape ``model.input_shape``.
        """
        raise NotImplementedError

    def explain_batch(
        self, model: LoadedModel, images: np.ndarray, class_indices: Sequence[int], params: Params
    ) -> np.ndarray:
        """Attributions for several images at once (dataset runs call this).

        The default calls :meth:`explain` per image; override it to share forward and
        backward passes between images.

        :param images: float32 ``(n,) + model.input_shape``.
        :param class_indices: one class per image.
        :returns: float32 ``(n,) + model.input_shape``.
        """
        return np.stack([self.explain(model, image, int(c), params)
                         for image, c in zip(images, class_indices)])
