"""The typer application: one module per command group, registered here."""

from __future__ import annotations

import typer

from synthgov import __version__
from synthgov.cli import (
    adversarial,
    audit,
    budget,
    collapse,
    detect,
    drift,
    evaluate,
    generate,
    origin,
    release,
    rules,
    schema,
    service,
)


def _flags_without_a_value_type() -> None:
    """typer 0.29 shows ``<bool>`` beside every flag, its own ``--help`` included, which reads as if ``--csv
    true`` worked (it is a usage error): show no value type for a flag. Older typer (click's help) shows none."""
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None or getattr(shown, "_synthgov", False):
        return

    def display_type_rich(self: object, ctx: object) -> str | None:
        return "" if getattr(self, "is_flag", False) else shown(self, ctx)

    display_type_rich._synthgov = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


_flags_without_a_value_type()

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
rules.register(app)
drift.register(app)
adversarial.register(app)
collapse.register(app)
budget.register(app)
origin.register(app)
audit.register(app)
service.register(app)
