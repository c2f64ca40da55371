"""Parameter schemas. One pydantic model per plugin drives validation, CLI options and docs.

A field's CLI option is ``--field-name``; multi-word fields also accept NNC's
``--field_name``. Extra spellings (NNC's short options such as ``-nl``) are listed
in the field's ``json_schema_extra={"aliases": [...]}``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ParameterError

P = TypeVar("P", bound=BaseModel)


class Params(BaseModel):
    """Base class of every plugin's parameter schema: unknown names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RunParams(Params):
    """What every ``xaikit run`` needs besides the explainer's own parameters."""

    model: str = Field(
        "results.nnp",
        description="Model file (*.nnp) to explain (model).",
        json_schema_extra={"aliases": ["-m"]},
    )
    image: Optional[str] = Field(
        None,
        description="Image file to analyse (image). A .csv file is a dataset: "
        "-i takes either, as NNC's two plugins do.",
        json_schema_extra={"aliases": ["-i"]},
    )
    class_index: int = Field(
        0,
        ge=0,
        description="Index of the class to explain (int).",
        json_schema_extra={"aliases": ["-c"]},
    )
    output: Optional[str] = Field(
        None,
        description="Output file: the map of one image, its extension picking the sink, "
        "or a dataset's CSV (image or csv). Default: <explainer>.png or <explainer>.csv.",
        json_schema_extra={"aliases": ["-o"]},
    )
    input: str = Field(
        "output_result.csv",
        min_length=1,
        description="Dataset CSV whose every row is explained, when no --image is given "
        "(csv).",
    )
    input_variable: str = Field(
        "x",
        min_length=1,
        description="Dataset variable holding the image paths (variable).",
        json_schema_extra={"aliases": ["-v1"]},
    )
    label_variable: str = Field(
        "y",
        min_length=1,
        description="Dataset variable holding each row's class: an index, or a one-hot or "
        "score vector (y__0, y__1...) (variable).",
        json_schema_extra={"aliases": ["-v2"]},
    )
    overwrite: bool = Field(
        False,
        description="Dataset runs: redo the maps an earlier run made with the same settings.",
    )


def option_name(field: str) -> str:
    """The CLI spelling of a field: ``noise_level`` -> ``--noise-level``."""
    return "--" + field.replace("_", "-")


def validate(schema: Type[P], values: Dict[str, Any]) -> P:
    """Build ``schema`` from ``values``, raising :class:`ParameterError` with one line per field."""
    try:
        return schema(**values)
    except ValidationError as exc:
        raise ParameterError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """One line per invalid field: ``noise_level: Input should be ... (got 1.5)``."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"]) or "parameters"
        if err["type"] == "extra_forbidden":
            lines.append(f"{name}: unknown parameter")
        else:
            lines.append(f"{name}: {err['msg']} (got {err['input']!r})")
    return "\n".join(lines)
