"""The typer application: one module per command group, registered here."""

from __future__ import annotations

import typer

from synthgov import __version__
from synthgov.cli import collapse, detect, evaluate, generate, release, schema

app = typer.Typer(
    name="synthgov",
    help="Accountable synthetic tabular data: generate, assess, watermark and sign releases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synthgov {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Accountable synthetic tabular data."""


generate.register(app)
evaluate.register(app)
release.register(app)
detect.register(app)
schema.register(app)
collapse.register(app)
