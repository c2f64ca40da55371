"""The Python API: load a model once, explain images, list plugins."""

from __future__ import annotations

import os
import warnings
from typing import Any, Dict, List, Sequence, Union

import numpy as np

from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import ModelError, ParameterError
from xaikit.plugin.manager import registry
from xaikit.plugin.params import RunParams, validate
from xaikit.run.classes import class_names, resolve_classes
from xaikit.run.explanation import Explanation
from xaikit.run.images import load_image, read_image
from xaikit.run.smoothing import explain_image, split_params


def load_model(ref: Any, **options: Any) -> LoadedModel:
    """Load a model once to explain many images with it.

    :param ref: a path to an ``.nnp`` file, a function building an nnabla graph
        (with ``input_shape=(C, H, W)``), or anything an installed adapter accepts.
    :param options: passed to the adapter.
    """
    if isinstance(ref, LoadedModel):
        return ref
    for reg in reversed(registry().items["adapter"].values()):  # plugins before built-ins
        if reg.obj.accepts(ref):
            return reg.obj.load(ref, **options)
    raise ModelError(f"model: no installed adapter loads a {type(ref).__name__}")


def explainers() -> List[str]:
    """Names of the installed explainers."""
    return sorted(registry().items["explainer"])


def sinks() -> List[str]:
    """Names of the installed sinks."""
    return sorted(registry().items["sink"])


def explain(
    explainer: str,
    model: Any,
    image: Any,
    class_index: Union[int, str, Sequence[int]] = 0,
    *,
    labels: Union[str, "os.PathLike[str]", Sequence[str], None] = None,
    **params: Any,
) -> Union[Explanation, List[Explanation]]:
    """Explain ``model``'s score for ``class_index`` on ``image``.

    :param explainer: an installed explainer's name, e.g. ``"smoothgrad"``.
    :param model: a :class:`LoadedModel` or anything :func:`load_model` takes.
    :param image: a path, a PIL image or a numpy array (see :func:`xaikit.load_image`).
    :param class_index: the output entry to explain; ``"predicted"`` for the model's top
        class on ``image``; or a list (``[3, 5]`` or ``"3,5"``) for one explanation per class.
    :param labels: class names: a text file with one per line, or a sequence.
    :param params: the explainer's parameters, validated by its ``Params`` schema, and the
        run's ``seed`` and smoothing options ``smooth_samples``, ``smooth_noise_level`` and
        ``smooth_variant`` (noise around any explainer; see :class:`xaikit.Smoothing`).
    :returns: an :class:`Explanation`; for a list of classes, a list of them in its order.
    :raises XaikitError: for any bad input, with a message naming the parameter.
    """
    algorithm = registry().get("explainer", explainer)
    checked, smooth = split_params(algorithm, params)
    target = validate(RunParams, {"class_index": class_index}).class_index
    loaded = load_model(model)
    names = class_names(labels, loaded.num_classes)
    preprocessed = isinstance(image, np.ndarray) and image.shape == loaded.input_shape
    original = None if preprocessed else read_image(image)
    pixels = load_image(image if original is None else original, loaded)
    scores = loaded.predict(pixels[None])[0]
    indices = resolve_classes(target, scores)
    for index in indices:
        check_class_index(index, loaded)
    explanations = []
    for index in indices:
        result = explain_image(algorithm, loaded, pixels, index, checked, smooth)
        if result.metadata.get("capped"):
            warnings.warn(capped_message(explainer, index, result.metadata), stacklevel=2)
        explanations.append(Explanation(
            attribution=result.values,
            input=pixels,
            class_index=index,
            explainer=explainer,
            params={**checked.model_dump(), **smooth.recorded()},
            model=loaded.name,
            score=float(scores[index]),
            class_name=names[index] if names else None,
            image=original,
            reported=dict(result.metadata),
        ))
    return explanations if isinstance(target, list) else explanations[0]


def capped_message(explainer: str, class_index: int, metadata: Dict[str, Any]) -> str:
    """What to tell about a map that reached its ``max_samples`` before its target
    stability (metadata ``capped``, with ``samples`` and ``stability``)."""
    return (f"{explainer}: class {class_index}: stopped at max_samples "
            f"({metadata['samples']} samples) with stability {metadata['stability']:.3f}, "
            "short of the stability asked for: the map is still noisy; raise max_samples "
            "or lower stability")


def check_class_index(class_index: int, model: LoadedModel) -> None:
    """Refuse a class index past the model's output width."""
    if class_index >= model.num_classes:
        raise ParameterError(
            f"class_index: {class_index} is past the output width of {model.name} "
            f"({model.num_classes} classes: 0 to {model.num_classes - 1})"
        )
