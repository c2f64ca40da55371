"""``xaikit evaluate``: compare explainers on metrics over images, a CSV or a folder."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import click

from xaikit.cli.options import schema_options
from xaikit.evaluation.report import summary_table
from xaikit.evaluation.run import EvaluateParams, evaluate
from xaikit.plugin.errors import XaikitError
from xaikit.plugin.manager import Registry, registry
from xaikit.plugin.params import validate
from xaikit.run.outputs import option_prefix

PLUGIN_KINDS = ("explainer", "metric")
"""Whose parameters are options here: ``--<explainer>-<parameter>``, ``--<metric>-<parameter>``."""
LISTED_FAILURES = 10
"""Failed rows listed on stderr; the report has them all."""


class EvaluateCommand(click.Command):
    """Its options are built from the installed plugins' schemas when first needed, and
    again once plugins were registered or unregistered."""

    built_for: Optional[Registry] = None

    def get_params(self, ctx: click.Context) -> List[click.Parameter]:
        if self.built_for is not registry():
            self.params, self.built_for = plugin_options(), registry()
        return super().get_params(ctx)


def plugin_options() -> List[click.Option]:
    """The run's options, then ``--<plugin>-<parameter>`` for every installed explainer's and
    metric's parameters; an option spelled like an earlier one is left out (it wins)."""
    options = schema_options(EvaluateParams)
    taken = {spelling for option in options for spelling in option.opts}
    for kind in PLUGIN_KINDS:
        for reg in registry().items[kind].values():
            for option in schema_options(reg.obj.Params, prefix=option_prefix(reg.name)):
                if taken.isdisjoint(option.opts):
                    options.append(option)
                    taken.update(option.opts)
    return options


def plugin_values(values: Dict[str, Any], kind: str) -> Dict[str, Dict[str, Any]]:
    """The options given for plugins of ``kind``, by name: ``{"smoothgrad": {"seed": 1}}``."""
    own = set(EvaluateParams.model_fields)
    given: Dict[str, Dict[str, Any]] = {}
    for reg in registry().items[kind].values():
        for field in reg.obj.Params.model_fields:
            key = option_prefix(reg.name) + field
            value = None if key in own else values.get(key)
            if value is not None and value != ():
                given.setdefault(reg.name, {})[field] = value
    return given


def run_evaluation(**values: Any) -> None:
    """Evaluate, print the table (stdout) and the files written; failed rows make exit 1."""
    fields = EvaluateParams.model_fields
    request = validate(EvaluateParams, {k: v for k, v in values.items()
                                        if k in fields and v is not None and v != ()})
    rows = evaluate(
        request.explainer, request.model, request.input, request.metric,
        class_index=request.class_index, seed=request.seed,
        explainer_params=plugin_values(values, "explainer"),
        metric_params=plugin_values(values, "metric"),
        output=request.output, plot=request.plot, batch_size=request.batch_size,
        input_variable=request.input_variable, label_variable=request.label_variable,
    )
    directions = {name: registry().get("metric", name).higher_is_better
                  for name in request.metric}
    click.echo(summary_table(rows, directions))
    for path in (request.output, request.plot):
        if path:
            click.echo(path)
    failed = [row for row in rows if row.error]
    for row in failed[:LISTED_FAILURES]:
        click.echo(f"{row.image}: {row.explainer}: {row.metric}: {row.error}", err=True)
    if len(failed) > LISTED_FAILURES:
        click.echo(f"... and {len(failed) - LISTED_FAILURES} more", err=True)
    if failed:
        where = f"; see {request.output}" if request.output else ""
        raise XaikitError(f"{len(failed)} of {len(rows)} rows failed{where}")


evaluate_command = EvaluateCommand(
    "evaluate",
    callback=run_evaluation,
    help="Compare explainers on evaluation metrics (deletion, insertion... see xaikit list) "
    "over an image, a dataset CSV or a folder of images: a report CSV with a row per "
    "image, explainer and metric, each metric's mean with its 95% confidence interval "
    "per explainer, and the mean curves (--plot).",
    short_help="Compare explainers on evaluation metrics.",
)
