"""The Explainer plugin kind: an attribution algorithm with a parameter schema."""

from __future__ import annotations

from typing import ClassVar, Type

import numpy as np

from .model import LoadedModel
from .params import Params


class Explainer:
    """Base class of explainers.

    Subclasses set ``name`` (what users type after ``xaikit run``), ``description``
    (one line for listings) and a nested ``Params`` schema, and implement :meth:`explain`.
    One instance serves every call; parameters arrive validated, per call.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[Type[Params]] = Params

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
