"""Click options generated from a pydantic parameter schema."""

from __future__ import annotations

import typing
from typing import Any, List, Type

import annotated_types
import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from typing_extensions import Annotated

from xaikit.plugin.params import option_name

_BOUNDS = ((annotated_types.Ge, "≥"), (annotated_types.Gt, ">"),
           (annotated_types.Le, "≤"), (annotated_types.Lt, "<"))


def schema_options(schema: Type[BaseModel], prefix: str = "") -> List[click.Option]:
    """One option per field: ``--field-name``, NNC's ``--field_name`` and the field's aliases.

    Values are passed on unconverted where possible and validated by the schema, so the
    CLI and the Python API reject the same values with the same messages. A tuple field
    is a repeatable option, unless its ``json_schema_extra`` has ``comma_separated``: then
    it is one string (``--onnx-mean 0.485,0.456,0.406``) that the schema splits. With
    ``prefix`` (a sink's ``heatmap_``) the options are
    ``--heatmap-alpha`` and ``--heatmap_alpha``, without aliases, and their values arrive
    under ``heatmap_alpha``.
    """
    return [_option(name, field, prefix) for name, field in schema.model_fields.items()]


def _option(name: str, field: FieldInfo, prefix: str = "") -> click.Option:
    decls = [prefix + name] + option_spellings(name, field, prefix)
    kind = _base_type(field.annotation)
    extra = _extra(field)
    if extra.get("comma_separated"):
        return click.Option(decls, type=click.STRING, default=None, help=help_text(field))
    if kind is bool:
        return click.Option(decls, default=None, help=help_text(field))
    repeated = typing.get_origin(kind) is tuple
    if repeated:
        kind = typing.get_args(kind)[0]
    choices = typing.get_args(kind) if typing.get_origin(kind) is typing.Literal else None
    words = _words_or_int(kind)
    click_type: Any = click.Choice([str(c) for c in choices]) if choices else (
        IntOrWord(words) if words else {int: click.INT, float: click.FLOAT}.get(kind, click.STRING))
    metavar = extra.get("path")
    if metavar:  # a path, checked by xaikit as the Python API checks it
        click_type = click.Path(readable=False, path_type=str)
    return click.Option(decls, type=click_type, default=None, multiple=repeated,
                        help=help_text(field), metavar=metavar)


def option_spellings(name: str, field: FieldInfo, prefix: str = "") -> List[str]:
    """Every CLI spelling of a field, as click declares it (the docs list the same).

    ``--field-name``, NNC's ``--field_name`` for multi-word fields, then the aliases in
    ``json_schema_extra`` (not for prefixed fields); a bool field's long spellings are
    ``--flag/--no-flag`` switches.
    """
    full = prefix + name
    spellings = [option_name(full)] + (["--" + full] if "_" in full else [])
    if not prefix:
        spellings += list(_extra(field).get("aliases", ()))
    if _base_type(field.annotation) is bool:
        spellings = [f"{s}/--no-{s[2:]}" if s.startswith("--") else s for s in spellings]
    return spellings


def help_text(field: FieldInfo) -> str:
    """The field's description with its default and range, as ``--help`` shows it."""
    parts = []
    if field.default not in (PydanticUndefined, None, ()):
        default = field.default
        parts.append("default: " + (", ".join(map(str, default)) if isinstance(default, tuple)
                                    else str(default)))
    bounds = range_text(field)
    if bounds:
        parts.append("range: " + bounds)
    suffix = f"  [{'; '.join(parts)}]" if parts else ""
    return (field.description or "") + suffix


def range_text(field: FieldInfo) -> str:
    """The field's bounds, ``≥ 0.0, ≤ 1.0``; empty when it has none."""
    return ", ".join(f"{sign} {getattr(m, type(m).__name__.lower())}"
                     for m in field.metadata for cls, sign in _BOUNDS if isinstance(m, cls))


def _extra(field: FieldInfo) -> dict:
    """The field's ``json_schema_extra`` (aliases, path...) as a dict."""
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


class IntOrWord(click.ParamType):
    """A whole number or one of some words (``--num-samples 25``, ``--num-samples auto``):
    numbers arrive as ``int``, anything else as given, for the schema to judge."""

    def __init__(self, words: List[str]) -> None:
        self.words = words
        self.name = "|".join(["integer"] + words)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        text = str(value).strip()
        return int(text) if text.lstrip("+-").isdigit() else value

    def get_metavar(self, param: Any, *args: Any, **kwargs: Any) -> str:
        return "|".join(["INTEGER"] + self.words)


def _words_or_int(kind: Any) -> List[str]:
    """``Union[int, Literal["auto"]]`` -> ``["auto"]``; other types -> ``[]``."""
    if typing.get_origin(kind) is not typing.Union:
        return []
    args = typing.get_args(kind)
    literals = [a for a in args if typing.get_origin(a) is typing.Literal]
    if int not in args or len(literals) + 1 != len(args):
        return []
    return [str(word) for literal in literals for word in typing.get_args(literal)]


def _base_type(annotation: Any) -> Any:
    """``Optional[int]`` -> ``int``; ``Optional[SampleCount]`` -> ``Union[int, Literal]``."""
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _base_type(args[0])
    if typing.get_origin(annotation) is Annotated:
        return typing.get_args(annotation)[0]
    return annotation
