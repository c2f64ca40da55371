"""Parameter schemas. One pydantic model per plugin drives validation, CLI options and docs.

A field's CLI option is ``--field-name``; multi-word fields also accept NNC's
``--field_name``. Extra spellings (NNC's short options such as ``-nl``) are listed
in the field's ``json_schema_extra={"aliases": [...]}``; ``"file": True`` there makes the
option's value a file path (``FILE`` in ``--help``, completed as a path by shells).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xaikit.plugin.errors import ParameterError
from xaikit.run.classes import ClassTarget

P = TypeVar("P", bound=BaseModel)


class Params(BaseModel):
    """Base class of every plugin's parameter schema: unknown names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RunParams(Params):
    """What every ``xaikit run`` needs besides the explainer's own parameters."""

    model: str = Field(
        "results.nnp",
        description="Model file (*.nnp) to explain.",
        json_schema_extra={"aliases": ["-m"], "file": True},
    )
    image: Optional[str] = Field(
        None,
        description="Image file to analyse. A .csv file is a dataset: "
        "-i takes either, as NNC's two plugins do.",
        json_schema_extra={"aliases": ["-i"], "file": True},
    )
    class_index: ClassTarget = Field(
        0,
        description="Index of the class to explain; 'predicted' for the model's top "
        "class, or several indices such as 3,5,7 for one map each.",
        json_schema_extra={"aliases": ["-c"]},
    )
    output: Optional[str] = Field(
        None,
        description="Output file: the map of one image (without --sink its extension picks "
        "the sink: grey for any image format; several sinks or classes add .<sink> or "
        ".class<N> before the extension), or a dataset's CSV. "
        "Default: <explainer>.png or <explainer>.csv.",
        json_schema_extra={"aliases": ["-o"], "file": True},
    )
    sink: Tuple[str, ...] = Field(
        (),
        description="Sink to write the map with; repeat for several: "
        "--sink grey --sink heatmap. Its options are --<sink>-<parameter>.",
    )
    labels: Optional[str] = Field(
        None,
        description="Text file naming the classes, one per line, for panels and outputs.",
        json_schema_extra={"file": True},
    )
    input: str = Field(
        "output_result.csv",
        min_length=1,
        description="Dataset CSV whose every row is explained, when no --image is given.",
        json_schema_extra={"file": True},
    )
    input_variable: str = Field(
        "x",
        min_length=1,
        description="Dataset variable holding the image paths.",
        json_schema_extra={"aliases": ["-v1"]},
    )
    label_variable: str = Field(
        "y",
        min_length=1,
        description="Dataset variable holding each row's class: an index, or a one-hot or "
        "score vector (y__0, y__1...).",
        json_schema_extra={"aliases": ["-v2"]},
    )
    overwrite: bool = Field(
        False,
        description="Dataset runs: redo the maps an earlier run made with the same settings.",
    )


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
        else:
            lines.append(f"{name}: {err['msg']} (got {err['input']!r})")
    return "\n".join(lines)
