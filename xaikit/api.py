"""The Python API: load a model once, explain images, list plugins."""

from __future__ import annotations

from typing import Any, List

from .errors import ModelError, ParameterError
from .explainer import Attribution
from .explanation import Explanation
from .images import load_image
from .model import LoadedModel
from .params import RunParams, validate
from .plugins import registry


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


def explain(
    explainer: str, model: Any, image: Any, class_index: int = 0, **params: Any
) -> Explanation:
    """Explain ``model``'s score for ``class_index`` on ``image``.

    :param explainer: an installed explainer's name, e.g. ``"smoothgrad"``.
    :param model: a :class:`LoadedModel` or anything :func:`load_model` takes.
    :param image: a path, a PIL image or a numpy array (see :func:`xaikit.images.load_image`).
    :param class_index: the output entry to explain.
    :param params: the explainer's parameters, validated by its ``Params`` schema.
    :raises XaikitError: for any bad input, with a message naming the parameter.
    """
    algorithm = registry().get("explainer", explainer)
    checked = validate(algorithm.Params, params)
    index = validate(RunParams, {"class_index": class_index}).class_index
    loaded = load_model(model)
    check_class_index(index, loaded)
    pixels = load_image(image, loaded)
    result = Attribution.of(algorithm.explain(loaded, pixels, index, checked))
    return Explanation(
        attribution=result.values,
        input=pixels,
        class_index=index,
        explainer=explainer,
        params=checked.model_dump(),
        model=loaded.name,
        metadata=dict(result.metadata),
    )


def check_class_index(class_index: int, model: LoadedModel) -> None:
    """Refuse a class index past the model's output width."""
    if class_index >= model.num_classes:
        raise ParameterError(
            f"class_index: {class_index} is past the output width of {model.name} "
            f"({model.num_classes} classes: 0 to {model.num_classes - 1})"
        )
