"""The ``xaikit`` command: ``xaikit list`` and ``xaikit run <explainer> ...``."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Type

import click

from . import api
from .errors import XaikitError
from .explanation import sink_for
from .params import Params, RunParams, validate
from .plugins import registry
from .schema_options import schema_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xaikit")
def cli() -> None:
    """Explain image classifiers: which pixels drive a decision."""


@cli.command("list")
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
        return click.Command(
            name,
            params=[opt for schema in schemas for opt in schema_options(schema)],
            callback=lambda **values: run_single(name, schemas, values),
            help=explainer.description,
            short_help=explainer.description,
        )


@cli.group("run", cls=ExplainerGroup)
def run() -> None:
    """Run an explainer on an image (see `xaikit list`)."""


def run_single(name: str, schemas: tuple, values: Dict[str, Any]) -> None:
    run_params, explainer_params = (_validated(schema, values) for schema in schemas)
    if run_params.image is None:
        raise XaikitError("image: missing; give the image file to explain with --image (-i)")
    output = Path(run_params.output or f"{name}.png")
    sink_for(output)  # an output nobody can write fails before the work, not after
    model = api.load_model(run_params.model)
    for note in model.notes:
        click.echo(f"note: {note}", err=True)
    explanation = api.explain(
        name,
        model=model,
        image=run_params.image,
        class_index=run_params.class_index,
        **explainer_params.model_dump(),
    )
    explanation.save(output)
    click.echo(str(output))


def _validated(schema: Type[Params], values: Dict[str, Any]) -> Params:
    fields = schema.model_fields
    return validate(schema, {k: v for k, v in values.items() if k in fields and v is not None})


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: errors users can cause end with one line and exit status 1."""
    warnings.showwarning = _show_warning
    try:
        cli.main(args=argv, prog_name="xaikit", standalone_mode=False)
    except XaikitError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
