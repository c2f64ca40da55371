"""Parameter schemas. One pydantic model per plugin drives validation, CLI options and docs.

A field's CLI option is ``--field-name``; multi-word fields also accept NNC's
``--field_name``. Extra spellings (NNC's short options such as ``-nl``) are listed
in the field's ``json_schema_extra={"aliases": [...]}``; ``"path": "FILE"`` there makes the
option's value a path (shown as ``FILE``, or ``PATH`` for a file or folder, in ``--help``,
and completed as a path by shells).
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Type, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from xaikit.plugin.errors import ParameterError

P = TypeVar("P", bound=BaseModel)


class Params(BaseModel):
    """Base class of every plugin's parameter schema: unknown names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_SAMPLES = 1_000_000
"""The most noisy samples a count may ask for."""
_COUNT = TypeAdapter(Annotated[int, Field(ge=1, le=MAX_SAMPLES)])


def _count_or_auto(value: Any, handler: Any) -> Any:
    if value == "auto":
        return value
    if isinstance(value, str) and not value.strip().isdigit():
        raise PydanticCustomError("count_or_auto", "Input should be a whole number or 'auto'")
    return _COUNT.validate_python(value)


SampleCount = Annotated[Union[int, Literal["auto"]], WrapValidator(_count_or_auto)]
"""A number of noisy samples (a whole number from 1 to :data:`MAX_SAMPLES`), or ``"auto"``:
as many as the map needs to reach a stability (see :mod:`xaikit.engine.stability`)."""


RUN_OPTIONS = frozenset({
    "model", "image", "class_index", "output", "sink", "labels", "input", "input_variable",
    "label_variable", "overwrite", "verbose", "seed", "smooth_samples", "smooth_noise_level",
    "smooth_variant", "smooth_stability", "smooth_max_samples", "workers", "scheduler",
})
"""The options of every run (``xaikit run``'s, and keywords of :func:`xaikit.explain` and
:func:`xaikit.explain_dataset`)."""

API_KEYWORDS = frozenset({"explainer", "sinks", "sink_params", "progress", "chunk_size"})
"""Further keywords of :func:`xaikit.explain_dataset`."""

SHARED = frozenset({"seed"})
"""Run options an explainer may declare: it then receives the run's value."""


def reserved_fields(schema: Type[BaseModel]) -> List[str]:
    """The fields of an explainer's ``schema`` that the run's own options would capture
    (``input``, ``labels``...): xaikit refuses to register such an explainer."""
    taken = (RUN_OPTIONS | API_KEYWORDS) - SHARED
    return [name for name in schema.model_fields if name in taken]


def option_name(field: str) -> str:
    """The CLI spelling of a field: ``noise_level`` -> ``--noise-level``."""
    return "--" + field.replace("_", "-")


def validate(schema: Type[P], values: Dict[str, Any], prefix: str = "") -> P:
    """Build ``schema`` from ``values``, raising :class:`ParameterError` with one line per field.

    ``prefix`` goes before each field's name in messages (``heatmap_`` + ``alpha``).
    """
    try:
        return schema(**values)
    except ValidationError as exc:
        raise ParameterError(describe(exc, prefix)) from None


def describe(exc: ValidationError, prefix: str = "") -> str:
    """One line per invalid field: ``noise_level: Input should be ... (got 1.5)``."""
    lines = []
    for err in exc.errors():
        name = prefix + (".".join(str(part) for part in err["loc"]) or "parameters")
        if err["type"] == "extra_forbidden":
            lines.append(f"{name}: unknown parameter")
        elif err["type"] == "missing":
            lines.append(f"{name}: required")
        else:
            lines.append(f"{name}: {err['msg']} (got {err['input']!r})")
    return "\n".join(lines)
