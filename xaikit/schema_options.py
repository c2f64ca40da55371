"""Click options generated from a pydantic parameter schema."""

from __future__ import annotations

import typing
from typing import Any, List, Type

import annotated_types
import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .params import option_name

_BOUNDS = ((annotated_types.Ge, "≥"), (annotated_types.Gt, ">"),
           (annotated_types.Le, "≤"), (annotated_types.Lt, "<"))


def schema_options(schema: Type[BaseModel], prefix: str = "") -> List[click.Option]:
    """One option per field: ``--field-name``, NNC's ``--field_name`` and the field's aliases.

    Values are passed on unconverted where possible and validated by the schema, so the
    CLI and the Python API reject the same values with the same messages. A tuple field
    is a repeatable option. With ``prefix`` (a sink's ``heatmap_``) the options are
    ``--heatmap-alpha`` and ``--heatmap_alpha``, without aliases, and their values arrive
    under ``heatmap_alpha``.
    """
    return [_option(name, field, prefix) for name, field in schema.model_fields.items()]


def _option(name: str, field: FieldInfo, prefix: str = "") -> click.Option:
    full = prefix + name
    decls = [full, option_name(full)]
    if "_" in full:
        decls.append("--" + full)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if not prefix:
        decls += list(extra.get("aliases", ()))
    kind = _base_type(field.annotation)
    if kind is bool:
        return click.Option([f"{d}/--no-{d[2:]}" if d.startswith("--") else d for d in decls],
                            default=None, help=help_text(field))
    repeated = typing.get_origin(kind) is tuple
    if repeated:
        kind = typing.get_args(kind)[0]
    choices = typing.get_args(kind) if typing.get_origin(kind) is typing.Literal else None
    click_type: Any = click.Choice([str(c) for c in choices]) if choices else {
        int: click.INT, float: click.FLOAT}.get(kind, click.STRING)
    return click.Option(decls, type=click_type, default=None, multiple=repeated,
                        help=help_text(field))


def help_text(field: FieldInfo) -> str:
    """The field's description with its default and range, as ``--help`` shows it."""
    parts = []
    if field.default not in (PydanticUndefined, None, ()):
        parts.append(f"default: {field.default}")
    bounds = [f"{sign} {getattr(m, type(m).__name__.lower())}"
              for m in field.metadata for cls, sign in _BOUNDS if isinstance(m, cls)]
    if bounds:
        parts.append("range: " + ", ".join(bounds))
    suffix = f"  [{'; '.join(parts)}]" if parts else ""
    return (field.description or "") + suffix


def _base_type(annotation: Any) -> Any:
    """``Optional[int]`` -> ``int``."""
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation
