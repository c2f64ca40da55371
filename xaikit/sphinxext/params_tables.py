"""``.. xaikit-params::`` and ``:xaikit-option:``: parameter docs read from the schemas.

A *target* names a schema: ``run`` (the options of every ``xaikit run``), an explainer's
name (``smoothgrad``), ``explainer NAME``, ``adapter NAME``, ``sink NAME``, ``metric
NAME`` or ``schema MODULE.CLASS`` (any pydantic model). The directive also takes ``all``:
a section per installed explainer, model adapter, sink and metric, after the ``run``
options.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from importlib import import_module
from typing import Any, List, Type

from docutils import nodes
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from sphinx.util.docutils import SphinxDirective

from xaikit.cli.options import option_spellings, range_text
from xaikit.plugin.errors import XaikitError
from xaikit.plugin.manager import registry
from xaikit.run.outputs import option_prefix
from xaikit.run.request import RunParams

KIND_TITLES = {"explainer": "Explainers", "adapter": "Model adapters", "sink": "Sinks",
               "metric": "Metrics"}
PREFIXED = ("adapter", "sink", "metric")
"""Kinds whose parameters the CLI spells with the plugin's name first (``--onnx-mean``,
``--deletion-steps``)."""
COLUMNS = (("Parameter", 14), ("CLI", 18), ("Type", 10), ("Default", 10), ("Range", 12),
           ("Description", 36))


@dataclass(frozen=True)
class ParamRow:
    """One field of a schema as the docs show it."""

    name: str
    spellings: List[str]
    type: str
    default: str
    range: str
    description: str


def param_rows(schema: Type[BaseModel], prefix: str = "", cli: bool = True) -> List[ParamRow]:
    """The rows of ``schema``'s table: its fields in order, with the CLI's spellings
    (a sink's options carry its ``prefix``, ``--heatmap-alpha``; none without ``cli``)."""
    return [ParamRow(name, option_spellings(name, field, prefix) if cli else [],
                     type_text(field.annotation),
                     default_text(field), range_text(field), field.description or "")
            for name, field in schema.model_fields.items()]


def type_text(annotation: Any) -> str:
    """``Optional[int]`` -> ``int | None``; ``Literal["a", "b"]`` -> ``'a' | 'b'``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if origin is getattr(typing, "Annotated", None):  # Python 3.9+
        return type_text(args[0])
    if annotation is type(None):
        return "None"
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_text(a) for a in args)
        return f"{getattr(origin, '__name__', origin)}[{inner}]"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def default_text(field: FieldInfo) -> str:
    """The default as ``--help`` prints it; ``required`` for a field without one."""
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    return str(field.get_default(call_default_factory=True))


def schema_for(target: str) -> Type[BaseModel]:
    """The schema a target names; :class:`XaikitError` for an unknown one."""
    words = target.split()
    if words == ["run"]:
        return RunParams
    kind, name = words if len(words) == 2 else ("explainer", words[0])
    if kind == "schema":
        return _import_schema(name)
    if len(words) > 2 or kind not in KIND_TITLES:
        raise XaikitError(f"{target!r} is not 'run', an explainer's name, "
                          "'explainer NAME', 'adapter NAME', 'sink NAME', 'metric NAME' or "
                          "'schema MODULE.CLASS'")
    return registry().get(kind, name).Params


def _import_schema(path: str) -> Type[BaseModel]:
    module, _, name = path.rpartition(".")
    try:
        schema = getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        schema = None
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise XaikitError(f"{path!r} is not an importable pydantic model")
    return schema


def cli_prefix(target: str) -> str:
    """How the CLI prefixes the options of a target: ``sink heatmap`` -> ``heatmap_``,
    ``adapter onnx`` -> ``onnx_``, ``metric deletion`` -> ``deletion_``."""
    words = target.split()
    return option_prefix(words[1]) if len(words) == 2 and words[0] in PREFIXED else ""


def params_table(schema: Type[BaseModel], prefix: str = "", cli: bool = True) -> nodes.Element:
    """A table of ``schema``'s fields; a paragraph saying so when it has none."""
    rows = param_rows(schema, prefix, cli)
    if not rows:
        return nodes.paragraph(text="No parameters.")
    tgroup = nodes.tgroup(cols=len(COLUMNS))
    tgroup += [nodes.colspec(colwidth=width) for _, width in COLUMNS]
    tgroup += nodes.thead("", _row([nodes.paragraph(text=title) for title, _ in COLUMNS]))
    body = nodes.tbody()
    for r in rows:
        default = nodes.paragraph(text=r.default) if r.default == "required" else _literals(
            [r.default])
        body += _row([_literals([r.name]), _literals(r.spellings), _literals([r.type]), default,
                      nodes.paragraph(text=r.range), nodes.paragraph(text=r.description)])
    tgroup += body
    # As typed: smart quotes would make "--sink" an en dash and 'predicted' curly.
    return nodes.table("", tgroup, classes=["xaikit-params"], support_smartquotes=False)


def _row(cells: List[nodes.Element]) -> nodes.row:
    return nodes.row("", *[nodes.entry("", cell) for cell in cells])


def _literals(texts: List[str]) -> nodes.paragraph:
    return nodes.paragraph("", "", *_comma_separated(texts))


def _comma_separated(texts: List[str]) -> List[nodes.Node]:
    """``a``, ``b``: literals between commas."""
    out: List[nodes.Node] = []
    for text in texts:
        out += [nodes.Text(", ")] if out else []
        out.append(nodes.literal(text=text))
    return out


class ParamsDirective(SphinxDirective):
    """``.. xaikit-params:: TARGET``: the table of one schema, or ``all`` of them."""

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> List[nodes.Node]:
        self.env.note_reread()  # the installed plugins may change without any file changing
        target = self.arguments[0]
        if target == "all":
            return self._all_sections()
        try:
            return [params_table(schema_for(target), cli_prefix(target))]
        except XaikitError as exc:
            raise self.error(f"xaikit-params: {exc}") from None

    def _all_sections(self) -> List[nodes.Node]:
        reg = registry()
        reporter = self.state.document.reporter
        messages = [reporter.warning(f"xaikit-params: {problem}", line=self.lineno)
                    for problem in reg.problems]
        run = _section("xaikit run", "xaikit-run")
        run += nodes.paragraph("", "Every ", nodes.literal(text="xaikit run"),
                               nodes.Text(" takes these, whichever the explainer."))
        run += params_table(RunParams)
        sections = [run]
        for kind, title in KIND_TITLES.items():
            outer = _section(title, f"xaikit-{kind}s")
            for item in reg.items[kind].values():
                inner = _section(item.name, f"xaikit-{kind}-{item.name}")
                inner += nodes.paragraph(text=f"{item.obj.description} "
                                         f"(package {item.package}).")
                extensions = getattr(item.obj, "extensions", ())
                if extensions:
                    listed = ", ".join(extensions)
                    inner += nodes.paragraph(text=f"Reads files ending in {listed}." if kind ==
                                             "adapter" else f"Writes files ending in {listed} "
                                             "by default.")
                # The CLI offers the options of the adapters that read files.
                inner += params_table(item.obj.Params,
                                      option_prefix(item.name) if kind in PREFIXED else "",
                                      cli=kind != "adapter" or bool(extensions))
                outer += inner
            sections.append(outer)
        return messages + sections


def _section(title: str, anchor: str) -> nodes.section:
    section = nodes.section(ids=[nodes.make_id(anchor)],
                            names=[nodes.fully_normalize_name(anchor)])
    section += nodes.title(text=title)
    return section


def option_role(name, rawtext, text, lineno, inliner, options=None, content=()):
    """``:xaikit-option:`smoothgrad noise_level```: that field's CLI spellings, inline."""
    inliner.document.settings.env.note_reread()
    *target, field = text.split()
    try:
        schema = schema_for(" ".join(target)) if target else None
        if field not in getattr(schema, "model_fields", {}):
            raise XaikitError(f"{text!r} is not TARGET FIELD with a field of TARGET's schema")
    except XaikitError as exc:
        message = inliner.reporter.error(f"xaikit-option: {exc}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    spellings = option_spellings(field, schema.model_fields[field], cli_prefix(" ".join(target)))
    return _comma_separated(spellings), []
