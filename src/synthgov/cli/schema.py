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
    domains: bool = typer.Option(
        False,
        "--domains",
        help="Also list each column's categories and mark its domain public, for a DP release (check them first).",
    ),
) -> None:
    """Infer the schema of TABLE and write it as YAML/JSON for you to edit (then pass it with --schema)."""
    from rich.table import Table

    from synthgov.table.infer import infer_schema

    with user_errors():
        schema = infer_schema(table, max_categories=max_categories)
        if domains:
            from synthgov.privacy.domains import declare_domains
            from synthgov.table.io import read_table

            schema = declare_domains(schema, read_table(table))
        target = out_path or table.with_name(table.name.split(".")[0] + ".schema.yaml")
        schema.save(target)
    view = Table(title=f"schema of {table}", show_lines=False)
    for header in ("column", "kind", "missing", "details"):
        view.add_column(header)
    for col in schema.columns:
        shown = {k: v for k, v in col.to_dict().items() if k not in ("kind", "missing_rate", "flags", "dtype")}
        if "categories" in shown:
            shown["categories"] = f"{len(shown['categories'])} listed"
        details = [f"{k}={v}" for k, v in shown.items()]
        details += col.flags
        view.add_row(col.name, col.kind, f"{col.missing_rate:.1%}", "; ".join(details))
    out.print(view)
    out.print(f"wrote [bold]{target}[/]: edit any column's kind or options, then use [bold]--schema {target}[/]")
    if domains:
        out.print(
            "[yellow]the domains (categories, min and max) were read from the data[/]: `public: true` declares them "
            "public knowledge; check each against a public source (a codebook, the law, a standard) and widen or "
            "remove any that only this table tells"
        )
