"""``synthgov origin DIR``: for the key holder, which rows of a hybrid release are real."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgov.cli.ui import out, user_errors


def register(app: typer.Typer) -> None:
    app.command("origin")(origin_command)


def origin_command(
    folder: Path = typer.Argument(..., help="A hybrid release folder (--mode hybrid).", metavar="DIR"),
    out_path: Path = typer.Option(
        None, "--out", "-o", help="Write one row per released row, column 'real' (CSV or Parquet)."
    ),
) -> None:
    """Recover which rows of a hybrid release are real (needs this issuer's key; keep the row order)."""
    from synthgov.pipeline.hybrid import recover_origin
    from synthgov.table.io import write_table

    with user_errors():
        real = recover_origin(folder)
        if out_path is not None:
            write_table(real.to_frame(), out_path)
    out.print(f"{int(real.sum()):,} of {len(real):,} rows are real ({real.mean():.2%})")
    if out_path is not None:
        out.print(f"wrote [bold]{out_path}[/]")
