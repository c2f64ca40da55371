"""The ``xaikit`` command: ``xaikit list`` and ``xaikit run <explainer> ...``."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Type

import click

from xaikit.cli.options import schema_options
from xaikit.datasets.run import explain_dataset
from xaikit.plugin.errors import DatasetError, ParameterError, XaikitError
from xaikit.plugin.manager import registry
from xaikit.plugin.params import Params, RunParams, option_name, validate
from xaikit.run import explain as api
from xaikit.run.outputs import choose_sinks, option_prefix, output_path, write_outputs


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xaikit")
def cli() -> None:
    """Explain image classifiers: which pixels drive a decision."""


@cli.command("list", short_help="Show the installed explainers, model adapters and sinks.")
def list_plugins() -> None:
    """Show the installed explainers, model adapters and sinks, and their packages."""
    titles = {"explainer": "Explainers", "adapter": "Model adapters", "sink": "Sinks"}
    rows = {kind: [(reg.name, f"{reg.package} ({type(reg.obj).__module__.split('.')[0]})",
                    reg.obj.description) for reg in registry().items[kind].values()]
            for kind in titles}
    every = [row for kind_rows in rows.values() for row in kind_rows]
    name_width = max([16] + [len(name) for name, _, _ in every])
    origin_width = max([32] + [len(origin) for _, origin, _ in every])
    for kind, title in titles.items():
        click.echo(f"{title}:")
        for name, origin, description in rows[kind]:
            click.echo(f"  {name:<{name_width}} {origin:<{origin_width}} {description}")


class ExplainerGroup(click.Group):
    """``xaikit run``: one subcommand per installed explainer, its options from its schema."""

    def list_commands(self, ctx: click.Context) -> List[str]:
        return api.explainers()

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        if name not in registry().items["explainer"]:
            return None
        explainer = registry().get("explainer", name)
        schemas = (RunParams, explainer.Params)
        options = [opt for schema in schemas for opt in schema_options(schema)]
        for option in options:
            if option.name == "sink":  # validated by xaikit; --help lists the installed ones
                option.metavar = "[" + "|".join(registry().items["sink"]) + "]"
        return click.Command(
            name,
            params=options + sink_options({o for opt in options for o in opt.opts}),
            callback=lambda **values: run_explainer(name, schemas, values),
            help=explainer.description,
            short_help=explainer.description,
        )


@cli.group("run", cls=ExplainerGroup,
           short_help="Run an explainer on an image or on every row of a dataset CSV.")
def run() -> None:
    """Run an explainer on an image or on every row of a dataset CSV (see `xaikit list`)."""


DATASET_ONLY = ("input", "input_variable", "label_variable", "overwrite")
"""Options of dataset runs, refused with --image."""
LISTED_FAILURES = 10
"""Failed rows a dataset run lists on stderr; the errors file has them all."""


def run_explainer(name: str, schemas: tuple, values: Dict[str, Any]) -> None:
    """One image with ``--image``; else every row of a dataset CSV (``-i`` takes a .csv too)."""
    image = values.get("image")
    if image is not None and not image.lower().endswith(".csv"):
        for field in DATASET_ONLY:
            if values.get(field) is not None:
                raise ParameterError(f"{field}: only dataset runs use it (--input data.csv); "
                                     "--image explains one image")
        run_single(name, schemas, values)
    else:
        run_dataset(name, schemas, values)


def sink_options(taken: Set[str]) -> List[click.Option]:
    """``--<sink>-<parameter>`` for every installed sink's parameters; an option spelled
    like a run or explainer option is left out (theirs wins)."""
    return [opt for reg in registry().items["sink"].values()
            for opt in schema_options(reg.obj.Params, prefix=option_prefix(reg.name))
            if taken.isdisjoint(opt.opts)]


def sink_values(values: Dict[str, Any], schemas: tuple) -> Dict[str, Dict[str, Any]]:
    """The sink options given, by sink name: ``{"heatmap": {"alpha": 0.3}}``; a value
    under the name of a field of ``schemas`` belongs to that field, not to a sink."""
    own = {field for schema in schemas for field in schema.model_fields}
    given: Dict[str, Dict[str, Any]] = {}
    for reg in registry().items["sink"].values():
        for field in reg.obj.Params.model_fields:
            key = option_prefix(reg.name) + field
            value = None if key in own else values.get(key)
            if value is not None:
                given.setdefault(reg.name, {})[field] = value
    return given


def run_single(name: str, schemas: tuple, values: Dict[str, Any]) -> None:
    run_params, explainer_params = (_validated(schema, values) for schema in schemas)
    output = Path(run_params.output or f"{name}.png")
    sink_params = sink_values(values, schemas)
    chosen = choose_sinks(output, run_params.sink, sink_params)  # fail before the work
    if len(chosen) == 1 and not isinstance(run_params.class_index, list):
        output_path(output, chosen[0][0])  # the name as given: its sink must write it
    model = api.load_model(run_params.model)
    for note in model.notes:
        click.echo(f"note: {note}", err=True)
    explanations = api.explain(
        name,
        model=model,
        image=run_params.image,
        class_index=run_params.class_index,
        labels=run_params.labels,
        **explainer_params.model_dump(),
    )
    for written in write_outputs(explanations, output, run_params.sink, sink_params):
        click.echo(str(written.path))


def run_dataset(name: str, schemas: tuple, values: Dict[str, Any]) -> None:
    """Explain every row; print the output CSV, the failed rows and a summary."""
    if values.get("image") is not None:
        if values.get("input") is not None:
            raise ParameterError(f"input: given twice: -i {values['image']} and "
                                 f"--input {values['input']}")
        values = {**values, "input": values["image"], "image": None}
    if values.get("class_index") is not None:
        raise ParameterError("class_index: a dataset run explains each row's label "
                             "(--label-variable); --class-index is for --image")
    run_params, explainer_params = (_validated(schema, values) for schema in schemas)
    if values.get("input") is None and not Path(run_params.input).is_file():
        raise DatasetError(f"input: {run_params.input}: no such file (give an image with "
                           "--image, or a dataset CSV with --input)")
    result = explain_dataset(
        name,
        model=run_params.model,
        input=run_params.input,
        output=run_params.output,
        input_variable=run_params.input_variable,
        label_variable=run_params.label_variable,
        overwrite=run_params.overwrite,
        sinks=run_params.sink,
        sink_params=sink_values(values, schemas),
        labels=run_params.labels,
        **explainer_params.model_dump(),
    )
    click.echo(str(result.output))
    for failure in result.failures[:LISTED_FAILURES]:
        click.echo(f"row {failure.row}: {failure.path}: {failure.reason}", err=True)
    if len(result.failures) > LISTED_FAILURES:
        click.echo(f"... and {len(result.failures) - LISTED_FAILURES} more", err=True)
    click.echo(result.summary(), err=True)
    if result.failures:
        raise XaikitError(f"{len(result.failures)} of {len(result.maps)} rows failed; "
                          f"see {result.errors}")


def _validated(schema: Type[Params], values: Dict[str, Any]) -> Params:
    fields = schema.model_fields
    return validate(schema, {k: v for k, v in values.items() if k in fields and v is not None})


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


def cli_message(message: str) -> str:
    """An error message as the command line shows it: each line that starts with a
    parameter's name starts with its option instead (``heatmap_alpha: ...`` ->
    ``--heatmap-alpha: ...``)."""
    fields = set(RunParams.model_fields)
    fields.update(f for reg in registry().items["explainer"].values()
                  for f in reg.obj.Params.model_fields)
    fields.update(option_prefix(reg.name) + f for reg in registry().items["sink"].values()
                  for f in reg.obj.Params.model_fields)
    lines = []
    for line in message.splitlines():
        field, colon, rest = line.partition(": ")
        lines.append(f"{option_name(field)}: {rest}" if colon and field in fields else line)
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: errors users can cause end with one line and exit status 1."""
    warnings.showwarning = _show_warning
    try:
        cli.main(args=argv, prog_name="xaikit", standalone_mode=False)
    except XaikitError as exc:
        click.echo(f"error: {cli_message(str(exc))}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
