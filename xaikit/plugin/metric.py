"""The Metric plugin kind: a number saying how far an attribution map can be trusted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

import numpy as np

from xaikit.plugin.params import Params

if TYPE_CHECKING:
    from xaikit.engine.model import LoadedModel


@dataclass(frozen=True)
class Curve:
    """A metric's curve for one image: what the report's plot draws, averaged per explainer.

    ``x`` must be the same for every image of a model (fractions of pixels, layer names).
    """

    x: Sequence[Union[float, str]]
    y: Sequence[float]
    x_label: str = ""
    y_label: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"x": list(self.x), "y": [float(v) for v in self.y],
                "x_label": self.x_label, "y_label": self.y_label}


@dataclass(frozen=True)
class Score:
    """A metric's value for one image, with what else it found.

    ``detail`` goes into the report's ``detail`` column as JSON: keep its values plain.
    """

    value: float
    curve: Optional[Curve] = None
    detail: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, result: Union[float, "Score"]) -> "Score":
        """A metric's result for one image, as a :class:`Score`."""
        return result if isinstance(result, Score) else cls(float(result))


@dataclass(frozen=True)
class Cost:
    """What a metric costs for one image and one explainer, besides the map it is given."""

    forward: int = 0
    """Images run through the network, forward only (batched: ``forward / batch_size``
    passes)."""
    backward: int = 0
    """Images run forward and backward."""
    explanations: int = 0
    """Further runs of the explainer (on another class, on a randomised copy of the model)."""


ScoresFunction = Callable[[Iterable[np.ndarray], Union[int, Sequence[int]]], np.ndarray]
ExplainFunction = Callable[["LoadedModel", np.ndarray, Sequence[int]], np.ndarray]


@dataclass(frozen=True)
class MetricBatch:
    """Images, their classes and the maps an explainer drew for them: one call's work.

    Images come in batches so that a metric can put the perturbed copies of all of them,
    at every step, through the same forward passes (:meth:`scores`).
    """

    model: "LoadedModel"
    images: np.ndarray
    """float32 ``(n,) + model.input_shape``, preprocessed."""
    class_indices: Tuple[int, ...]
    """The class each map explains."""
    attributions: np.ndarray
    """float32 ``(n,) + model.input_shape``: the maps being evaluated."""
    seeds: Tuple[int, ...]
    """One seed per image, from the run's seed and the image's place in the run: a metric
    that draws from ``numpy.random.default_rng(seeds[i])`` for image ``i`` gives the same
    value whatever the batch, and the same draws for every explainer."""
    seed: int
    """The run's seed, for draws shared by all images (a randomised model's weights)."""
    scores: ScoresFunction
    """``scores(inputs, class_indices)``: the model's output for ``class_indices[i]`` (one
    for all, or one per input) at each input of a lazily read iterable, float32 ``(k,)``,
    in forward passes of the run's batch size (:func:`xaikit.class_scores`)."""
    explain: ExplainFunction
    """``explain(model, images, class_indices)``: the explainer's maps, with its parameters,
    for other images, classes or models (a randomised copy); float32 array."""

    def __len__(self) -> int:
        return len(self.images)


class Metric:
    """Base class of evaluation metrics.

    Subclasses set ``name`` (what users type after ``--metric``), ``description`` (one
    line), ``higher_is_better`` (True, False, or None when neither, as for a sanity
    check read against its controls) and a nested ``Params`` schema, and implement
    :meth:`evaluate` and :meth:`cost`. One instance serves every call; parameters arrive
    validated, per call.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    higher_is_better: ClassVar[Optional[bool]] = None
    Params: ClassVar[Type[Params]] = Params

    def evaluate(self, batch: MetricBatch, params: Params) -> List[Union[float, Score]]:
        """The metric's value for each map of ``batch``.

        :param batch: the images, classes and maps, with the run's forward passes
            (``batch.scores``), the explainer (``batch.explain``) and seeds.
        :param params: an instance of this metric's ``Params``.
        :returns: one value or :class:`Score` per image, in order.
        """
        raise NotImplementedError

    def cost(self, model: "LoadedModel", params: Params) -> Cost:
        """What :meth:`evaluate` costs per image, for the run's estimate."""
        return Cost()
