"""The Explainer plugin kind: an attribution algorithm with a parameter schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Type, Union

import numpy as np

from xaikit.engine.model import LoadedModel
from xaikit.engine.noise import Smoothing
from xaikit.engine.passes import Smoothed, smoothed_maps
from xaikit.plugin.params import Params


@dataclass(frozen=True)
class Attribution:
    """An attribution map with facts about it: what an explainer may return instead of
    a bare array when it has something to report (a completeness check, the layer used).

    ``metadata`` becomes :attr:`Explanation.metadata`; keep its values plain (numbers,
    strings, lists of them) so that any sink can write them.
    """

    values: np.ndarray
    """The map, of ``model.input_shape``; stored as float32."""
    metadata: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", np.asarray(self.values, dtype=np.float32))

    @classmethod
    def of(cls, result: Union[np.ndarray, "Attribution"]) -> "Attribution":
        """An explainer's result for one image, as an :class:`Attribution`."""
        return result if isinstance(result, Attribution) else cls(result)

    @classmethod
    def each(cls, smoothed: Smoothed) -> List["Attribution"]:
        """Smoothed maps (:func:`xaikit.smoothed_gradients`), one :class:`Attribution`
        per image, reporting the ``samples`` it reduces and its ``stability`` (and
        ``capped`` with ``samples="auto"``)."""
        return [cls(values, smoothed.metadata(i)) for i, values in enumerate(smoothed.maps)]


Result = Union[np.ndarray, Attribution]
"""What :meth:`Explainer.explain` returns for one image."""


class Explainer:
    """Base class of explainers.

    Subclasses set ``name`` (what users type after ``xaikit run``), ``description``
    (one line for listings) and a nested ``Params`` schema, and implement :meth:`explain`.
    They may set ``nnc_column``, the first column of a dataset run's output CSV (NNC's
    method name, ``SmoothGrad``); by default it is ``name``. A parameter may not have the
    name of a run option (``input``, ``labels``...), except ``seed``: an explainer that
    declares one receives the run's.
    One instance serves every call; parameters arrive validated, per call.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[Type[Params]] = Params
    nnc_column: ClassVar[Optional[str]] = None

    def explain(
        self, model: LoadedModel, image: np.ndarray, class_index: int, params: Params
    ) -> Result:
        """Attribute ``model``'s score for ``class_index`` to the pixels of ``image``.

        :param model: the classifier; ``model.graph(batch_size)`` gives a differentiable graph.
        :param image: one preprocessed input, float32 ``model.input_shape`` (C, H, W).
        :param class_index: the output entry to explain, already checked against the model.
        :param params: an instance of this explainer's ``Params``.
        :returns: float32 attribution of shape ``model.input_shape``, or an
            :class:`Attribution` holding it with metadata.
        """
        raise NotImplementedError

    def explain_batch(
        self, model: LoadedModel, images: np.ndarray, class_indices: Sequence[int], params: Params
    ) -> Union[np.ndarray, List[Result]]:
        """Attributions for several images at once (dataset runs call this).

        The default calls :meth:`explain` per image; override it to share forward and
        backward passes between images.

        :param images: float32 ``(n,) + model.input_shape``.
        :param class_indices: one class per image.
        :returns: float32 ``(n,) + model.input_shape``, or a list of one result per image
            as :meth:`explain` returns them; read either with :meth:`Attribution.of` per item.
        """
        results = [self.explain(model, image, int(c), params)
                   for image, c in zip(images, class_indices)]
        if any(isinstance(r, Attribution) for r in results):
            return [Attribution.of(r) for r in results]
        return np.stack(results)

    def explain_smoothed(
        self, model: LoadedModel, images: np.ndarray, class_indices: Sequence[int],
        params: Params, smoothing: Smoothing,
    ) -> Union[np.ndarray, List[Result]]:
        """Maps of noisy copies of each image reduced to one (runs with ``smooth_samples``
        call this): ``smoothing.variant`` of the maps of ``smoothing.samples`` copies.

        The default passes the copies through :meth:`explain_batch`, as many at a time as
        fit a memory budget, and adds their maps up in float64 in sample order; the
        metadata of the copies' maps is dropped, and each map reports the copies it
        reduces and its stability instead (:meth:`Attribution.each`). Override it to
        compute the same faster (the ``gradient`` explainer keeps each pass's noise and
        sums in its threads).

        :param images: float32 ``(n,) + model.input_shape``.
        :param class_indices: one class per image.
        :param smoothing: the number of copies (or ``"auto"``), their noise and seed, the
            variant.
        :returns: as :meth:`explain_batch` returns.
        """
        def explain(copies: np.ndarray, classes: np.ndarray) -> np.ndarray:
            results = self.explain_batch(model, copies, [int(c) for c in classes], params)
            if isinstance(results, np.ndarray):
                return results
            return np.stack([Attribution.of(r).values for r in results])

        return Attribution.each(smoothed_maps(model, explain, images, class_indices, smoothing))
