"""The ``xaikit`` command: ``xaikit list`` and ``xaikit run <explainer> ...``."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Dict, List, Optional, Set

import click

from xaikit.cli.evaluate import evaluate_command
from xaikit.cli.options import schema_options
from xaikit.datasets import run as datasets
from xaikit.plugin.errors import DatasetError, ParameterError, UnknownPluginError, XaikitError
from xaikit.plugin.manager import PluginWarning, registry
from xaikit.plugin.params import option_name
from xaikit.run import explain as api
from xaikit.run.explanation import write_explanations
from xaikit.run.outputs import option_prefix
from xaikit.run.request import Request, RunParams, build_request
from xaikit.run.smoothing import SmoothParams


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xaikit")
def cli() -> None:
    """Explain image classifiers: which pixels drive a decision."""
    for problem in registry().problems:  # every command tells the same story
        click.echo(f"warning: {problem}", err=True)


@cli.command("list", short_help="Show the installed explainers, model adapters, sinks and "
             "metrics.")
def list_plugins() -> None:
    """Show the installed explainers, model adapters, sinks and metrics, and their packages."""
    titles = {"explainer": "Explainers", "adapter": "Model adapters", "sink": "Sinks",
              "metric": "Metrics"}
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
        try:
            explainer = registry().get("explainer", name)
        except UnknownPluginError:
            return None  # click says: No such command
        run_fields = RunParams.model_fields  # a seed the explainer declares is the run's --seed
        options = schema_options(RunParams) + schema_options(SmoothParams) + [
            opt for opt in schema_options(explainer.Params) if opt.name not in run_fields]
        for option in options:
            if option.name == "sink":  # validated by xaikit; --help lists the installed ones
                option.metavar = "[" + "|".join(registry().items["sink"]) + "]"
        return click.Command(
            name,
            params=options + prefixed_options(options) + [verbose_option()],
            callback=lambda **values: run_command(name, values),
            help=explainer.description,
            short_help=explainer.description,
        )


@cli.group("run", cls=ExplainerGroup,
           short_help="Run an explainer on an image or on every row of a dataset CSV.")
def run() -> None:
    """Run an explainer on an image or on every row of a dataset CSV (see `xaikit list`)."""


cli.add_command(evaluate_command)

LISTED_FAILURES = 10
"""Failed rows a dataset run lists on stderr; the errors file has them all."""
SCHEDULER_VARIABLE = "XAIKIT_SCHEDULER"
"""The environment variable that gives dataset runs a Dask scheduler without --scheduler."""


def verbose_option() -> click.Option:
    """``--verbose``, a flag of the command line alone: the Python API returns what it
    prints (``Explanation.metadata``, ``DatasetResult.settling``)."""
    return click.Option(["--verbose"], is_flag=True, default=False,
                        help="Print what each map reports besides itself, to stderr: for "
                        "maps made from noisy samples, their samples and stability.")


def run_command(name: str, values: Dict[str, Any]) -> None:
    """One image with ``--image``; else every row of a dataset CSV or every image under a
    folder (``-i`` takes a .csv or a folder too)."""
    request = parse_run(name, values)
    if request.dataset is None:
        run_image(request, values["verbose"])
    else:
        run_dataset(request, values["verbose"])


def parse_run(name: str, values: Dict[str, Any]) -> Request:
    """The request of ``xaikit run <name>`` from click's values: the options given, the
    sinks' and model adapters' options by plugin, ``-i data.csv`` or ``-i FOLDER`` as the
    dataset it names, and ``XAIKIT_SCHEDULER`` for a dataset run without ``--scheduler``
    or ``--workers``."""
    own = (set(RunParams.model_fields) | set(SmoothParams.model_fields)
           | set(registry().get("explainer", name).Params.model_fields))
    given = {key: value for key, value in values.items() if key in own and value is not None}
    image = given.get("image")
    dataset = image is None or image.lower().endswith(".csv") or os.path.isdir(image)
    if dataset and not {"scheduler", "workers"} & set(given) and os.environ.get(
            SCHEDULER_VARIABLE):
        given["scheduler"] = os.environ[SCHEDULER_VARIABLE]
    named_input = "input" in given
    if image is not None and dataset:
        if named_input:
            raise ParameterError(f"given twice: -i {image} and --input {given['input']}",
                                 subject="input")
        given["input"] = given.pop("image")
        named_input = True
    request = build_request(name, given, prefixed_values("sink", values, own),
                            prefixed_values("adapter", values, own), dataset=dataset)
    if dataset and not named_input and not request.dataset.path.exists():
        raise DatasetError("no such file (give an image with --image, or a dataset CSV with "
                           "--input)", subject="input", path=request.dataset.path)
    return request


def prefixed_options(taken: List[click.Option]) -> List[click.Option]:
    """``--<sink>-<parameter>`` for every installed sink's parameters and
    ``--<adapter>-<parameter>`` for those of every adapter that reads files
    (``--onnx-mean``); an option spelled like an earlier one is left out (that one wins)."""
    spelled = {o for opt in taken for o in opt.opts}
    plugins = list(registry().items["sink"].values()) + [
        reg for reg in registry().items["adapter"].values() if reg.obj.extensions]
    options = []
    for reg in plugins:
        for opt in schema_options(reg.obj.Params, prefix=option_prefix(reg.name)):
            if spelled.isdisjoint(opt.opts):
                options.append(opt)
                spelled.update(opt.opts)
    return options


def prefixed_values(kind: str, values: Dict[str, Any], own: Set[str]
                    ) -> Dict[str, Dict[str, Any]]:
    """The ``--<plugin>-<parameter>`` options given for the plugins of ``kind`` (``sink``,
    ``adapter``), by plugin name: ``{"heatmap": {"alpha": 0.3}}``; a value under the name
    of a run or explainer field (``own``) is that field's, not a plugin's."""
    given: Dict[str, Dict[str, Any]] = {}
    for reg in registry().items[kind].values():
        for field in reg.obj.Params.model_fields:
            key = option_prefix(reg.name) + field
            if key not in own and values.get(key) is not None:
                given.setdefault(reg.name, {})[field] = values[key]
    return given


def run_image(request: Request, verbose: bool = False) -> None:
    """Explain one image and write its files; print their paths (and with ``verbose``,
    what each map reports)."""
    model = api.load_model(request.model, **request.model_options)
    for note in model.notes:
        click.echo(f"note: {note}", err=True)
    explanations = api.explain_image(request, model)
    for written in write_explanations(explanations, request.output, request.sinks):
        click.echo(str(written.path))
    if verbose:
        for exp in explanations:
            click.echo(f"class {exp.class_index}: {facts(exp.reported)}", err=True)


def run_dataset(request: Request, verbose: bool = False) -> None:
    """Explain every row; print the output CSV, the failed rows and a summary (and with
    ``verbose``, each row's samples and stability)."""
    result = datasets.run_dataset(request)
    click.echo(str(result.output))
    if verbose:
        for row, settling in result.settling.items():
            click.echo(f"row {row}: {facts(settling)}", err=True)
    for failure in result.failures[:LISTED_FAILURES]:
        click.echo(f"row {failure.row}: {failure.path}: {failure.reason}", err=True)
    if len(result.failures) > LISTED_FAILURES:
        click.echo(f"... and {len(result.failures) - LISTED_FAILURES} more", err=True)
    click.echo(result.summary(), err=True)
    if result.failures:
        raise XaikitError(f"{len(result.failures)} of {len(result.maps)} rows failed; "
                          f"see {result.errors}")


def facts(reported: Dict[str, Any]) -> str:
    """``samples 48, stability 0.9721``: what a map reports, for ``--verbose``."""
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in reported.items()) or "nothing reported"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


def command_fields(argv: List[str]) -> Set[str]:
    """The parameter names of the options of the command ``argv`` runs (``run smoothgrad``,
    ``evaluate``), as click received them: ``heatmap_alpha`` for ``--heatmap-alpha``."""
    command: click.Command = cli
    ctx = click.Context(cli)
    try:
        for word in argv:
            if not isinstance(command, click.Group):
                break
            sub = command.get_command(ctx, word)
            if sub is None:
                break
            command = sub
        return {param.name for param in command.get_params(ctx) if param.name}
    except XaikitError:  # a broken plugin's command: its error is the message
        return set()


def cli_message(message: str, fields: Set[str]) -> str:
    """An error message as the command line shows it: each line that starts with one of
    ``fields`` starts with its option instead (``heatmap_alpha: ...`` ->
    ``--heatmap-alpha: ...``; ``onnx_mean.1: ...`` -> ``--onnx-mean.1: ...``)."""
    lines = []
    for line in message.splitlines():
        subject, colon, rest = line.partition(": ")
        field, dot, item = subject.partition(".")
        known = colon and field in fields
        lines.append(f"{option_name(field)}{dot}{item}: {rest}" if known else line)
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: errors users can cause end with one line and exit status 1."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        warnings.simplefilter("ignore", PluginWarning)  # cli() prints the plugins' problems
        try:
            cli.main(args=argv, prog_name="xaikit", standalone_mode=False)
        except XaikitError as exc:
            fields = command_fields(sys.argv[1:] if argv is None else list(argv))
            click.echo(f"error: {cli_message(str(exc), fields)}", err=True)
            sys.exit(1)
        except click.exceptions.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
