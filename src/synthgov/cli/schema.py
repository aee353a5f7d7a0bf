"""``synthgov schema``: infer a table's schema and write it out for editing."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgov.cli.ui import out, user_errors


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_command)


def schema_command(
    table: Path = typer.Argument(..., help="CSV or Parquet file.", metavar="TABLE"),
    out_path: Path = typer.Option(
        None, "--out", "-o", help="Where to write the schema (.yaml or .json); default: <table>.schema.yaml."
    ),
    max_categories: int = typer.Option(500, help="Categories modelled one by one before rarer ones are pooled."),
) -> None:
    """Infer the schema of TABLE and write it as YAML/JSON for you to edit (then pass it with --schema)."""
    from rich.table import Table

    from synthgov.table.infer import infer_schema

    with user_errors():
        schema = infer_schema(table, max_categories=max_categories)
        target = out_path or table.with_name(table.name.split(".")[0] + ".schema.yaml")
        schema.save(target)
    view = Table(title=f"schema of {table}", show_lines=False)
    for header in ("column", "kind", "missing", "details"):
        view.add_column(header)
    for col in schema.columns:
        details = [f"{k}={v}" for k, v in col.to_dict().items() if k not in ("kind", "missing_rate", "flags", "dtype")]
        details += col.flags
        view.add_row(col.name, col.kind, f"{col.missing_rate:.1%}", "; ".join(details))
    out.print(view)
    out.print(f"wrote [bold]{target}[/]: edit any column's kind or options, then use [bold]--schema {target}[/]")
