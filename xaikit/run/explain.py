"""The Python API: load a model once, explain images, list plugins."""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any, Dict, List, Sequence, Union

import numpy as np

from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import ParameterError
from xaikit.plugin.manager import registry
from xaikit.plugin.params import validate
from xaikit.run.classes import resolve_classes
from xaikit.run.explanation import Context, Explanation
from xaikit.run.images import load_image, read_image
from xaikit.run.request import Request, build_request, model_adapter
from xaikit.run.smoothing import attribute_image


def load_model(ref: Any, **options: Any) -> LoadedModel:
    """Load a model once to explain many images with it.

    :param ref: a path to an ``.nnp`` or ``.onnx`` file, a function building an nnabla
        graph (with ``input_shape=(C, H, W)``), or anything an installed adapter accepts.
    :param options: the adapter's parameters, validated by its ``Params`` schema
        (``mean=[0.485, 0.456, 0.406]`` for an ``.onnx`` file, say).
    """
    if isinstance(ref, LoadedModel):
        if options:
            raise ParameterError("the model is loaded already; give its options to "
                                 "load_model", subject=next(iter(options)))
        return ref
    adapter = model_adapter(ref)
    checked = validate(adapter.Params, options)
    model = adapter.load(ref, checked)
    model.reload = functools.partial(adapter.load, ref, checked)
    return model


def explainers() -> List[str]:
    """Names of the installed explainers."""
    return sorted(registry().items["explainer"])


def metrics() -> List[str]:
    """Names of the installed evaluation metrics (see :func:`xaikit.evaluate`)."""
    return sorted(registry().items["metric"])


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
    :param params: the explainer's parameters, validated by its ``Params`` schema, and
        the run's options: ``seed``, and ``smooth_samples`` (a number or ``"auto"``),
        ``smooth_noise_level``, ``smooth_variant``, ``smooth_stability`` and
        ``smooth_max_samples`` (noise around any explainer; see :class:`xaikit.Smoothing`).
    :returns: an :class:`Explanation`; for a list of classes, a list of them in its order.
    :raises XaikitError: for any bad input, with a message naming the parameter.
    """
    request = build_request(
        explainer,
        {"model": model, "image": image, "class_index": class_index, "labels": labels,
         **params},
        dataset=False,
        writes=False,
    )
    explanations = explain_image(request, load_model(request.model))
    return explanations if isinstance(request.classes, list) else explanations[0]


def explain_image(request: Request, model: LoadedModel) -> List[Explanation]:
    """The explanations a request on one image asks for, one per class, in its order."""
    context = Context.of(request, model)
    image = request.image
    preprocessed = isinstance(image, np.ndarray) and image.shape == model.input_shape
    original = None if preprocessed else read_image(image)
    pixels = load_image(image if original is None else original, model)
    scores = model.predict(pixels[None])[0]
    indices = resolve_classes(request.classes, scores)
    for index in indices:
        check_class_index(index, model)
    explanations = []
    for index in indices:
        attribution = attribute_image(request.explainer, model, pixels, index, request.params,
                                      request.smoothing)
        if attribution.metadata.get("capped"):
            warnings.warn(capped_message(request.explainer.name, index, attribution.metadata),
                          stacklevel=3)
        explanations.append(context.explanation(pixels, index, attribution,
                                                float(scores[index]), original))
    return explanations


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
            f"{class_index} is past the output width of {model.name} "
            f"({model.num_classes} classes: 0 to {model.num_classes - 1})",
            subject="class_index",
        )
