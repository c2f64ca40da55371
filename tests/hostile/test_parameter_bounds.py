"""Every bounded parameter of xaikit's own explainers, sinks and metrics, just inside and
just outside its bounds, NaN and infinity: accepted, or one ParameterError line naming it.
(Third-party plugins installed beside xaikit are theirs to test; ``check_explainer`` warns
them of numeric parameters without bounds.)"""

import math
import typing

import annotated_types
import pytest

import xaikit
from xaikit.evaluation.run import EvaluateParams
from xaikit.plugin.manager import OWN_PACKAGE, registry
from xaikit.plugin.params import validate
from xaikit.run.request import RunParams
from xaikit.run.smoothing import SmoothParams

REQUIRED = {EvaluateParams: {"explainer": ("random",), "input": "images"},
            SmoothParams: {"smooth_samples": "auto"},
            registry().get("explainer", "smoothgrad").Params: {"num_samples": "auto"}}
"""Values of the fields of a schema that are required, or that the tested one applies
only with (a stopping rule only with ``auto``)."""


def schemas():
    found = [("run", RunParams), ("smoothing", SmoothParams), ("evaluate", EvaluateParams)]
    for kind in ("explainer", "sink", "metric"):
        found += [(f"{kind} {name}", reg.obj.Params)
                  for name, reg in registry().items[kind].items() if reg.package == OWN_PACKAGE]
    return found


def numeric_fields():
    for where, schema in schemas():
        for name, field in schema.model_fields.items():
            kind = field.annotation
            if typing.get_origin(kind) is typing.Union:  # Optional[int]; not int | "auto"
                kinds = [a for a in typing.get_args(kind) if a is not type(None)]
                kind = kinds[0] if len(kinds) == 1 else None
            if kind in (int, float) and field.metadata:
                yield pytest.param(schema, name, kind, field.metadata, id=f"{where}.{name}")


def step(kind, value, direction):
    return value + direction if kind is int else math.nextafter(value, direction * math.inf)


@pytest.mark.parametrize("schema,name,kind,metadata", list(numeric_fields()))
def test_bounds_inside_and_outside(schema, name, kind, metadata):
    cases = []  # (value, accepted)
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            cases += [(m.ge, True), (step(kind, m.ge, -1), False)]
        elif isinstance(m, annotated_types.Gt):
            cases += [(step(kind, m.gt, +1), True), (m.gt, False)]
        elif isinstance(m, annotated_types.Le):
            cases += [(m.le, True), (step(kind, m.le, +1), False)]
        elif isinstance(m, annotated_types.Lt):
            cases += [(step(kind, m.lt, -1), True), (m.lt, False)]
    assert cases, f"{name} has metadata but no bounds"
    if kind is float:
        cases += [(math.nan, False)]
        if any(isinstance(m, (annotated_types.Le, annotated_types.Lt)) for m in metadata):
            cases += [(math.inf, False)]
    for value, accepted in cases:
        if accepted:
            assert getattr(validate(schema, {**REQUIRED.get(schema, {}), name: value}),
                           name) == value
        else:
            with pytest.raises(xaikit.ParameterError) as err:
                validate(schema, {**REQUIRED.get(schema, {}), name: value})
            assert str(err.value).startswith(f"{name}: ") and "\n" not in str(err.value)
