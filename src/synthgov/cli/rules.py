"""``synthgov rules suggest|check``: value rules found in a table, and a rules file measured on a table."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgov.cli.ui import out, user_errors

rules_app = typer.Typer(
    help="Value rules: suggest them from a table, check a rules file against one.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


@rules_app.command("suggest")
def suggest_command(
    table: Path = typer.Argument(..., help="CSV or Parquet table (or a folder of part-*.parquet).", metavar="TABLE"),
    out_path: Path = typer.Option(
        None, "--out", "-o", help="Where to write the rules (YAML); default: <table>.rules.yaml."
    ),
    min_rate: float = typer.Option(
        0.999, "--min-rate", help="Propose rules that hold in at least this share of the rows they apply to."
    ),
) -> None:
    """Propose rules that hold in TABLE (fixed combinations, implications, order relations, signs) as an editable
    rules file for `synthgov generate --rules`."""
    from synthgov.constraints.discovery import suggest, to_yaml
    from synthgov.table.io import read_table

    with user_errors():
        frame = read_table(table)
        found = suggest(frame, min_rate)
        target = out_path or table.with_name(table.name.split(".")[0] + ".rules.yaml")
        target.write_text(to_yaml(found, table.name, len(frame)), encoding="utf-8")
    flagged = sum(1 for s in found if s.exceptions)
    out.print(
        f"wrote [bold]{target}[/]: {len(found)} rules ({flagged} flagged: they have exceptions in the data); "
        f"edit it, then use [bold]--rules {target}[/]"
    )


@rules_app.command("check")
def check_command(
    table: Path = typer.Argument(..., help="CSV or Parquet table.", metavar="TABLE"),
    rules: Path = typer.Option(..., "--rules", help="Value rules file (YAML)."),
) -> None:
    """Measure each rule of a rules file on TABLE: how many rows break it (exit 1 if any row does)."""
    from rich.table import Table

    from synthgov.constraints.value_rules import load_rules
    from synthgov.table.io import read_table

    with user_errors():
        frame = read_table(table)
        ruled = load_rules(rules)
        assert ruled is not None
        ruled.check_columns(list(frame.columns))
        broken = ruled.violations(frame)
    view = Table(title=f"{len(ruled)} rules on {table} ({len(frame):,} rows)")
    for header in ("rule", "kind", "rows breaking it", "share"):
        view.add_column(header, overflow="fold")
    for rule in ruled:
        count = broken[rule.name]
        view.add_row(rule.name, rule.kind, f"{count:,}", f"{count / max(len(frame), 1):.4%}")
    out.print(view)
    if any(broken.values()):
        raise typer.Exit(1)
