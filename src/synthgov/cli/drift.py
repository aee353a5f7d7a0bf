"""``synthgov drift BASELINE CANDIDATE``: which values drifted between two tables (exit 1 when one did)."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgov.cli.ui import fail, out, user_errors


def register(app: typer.Typer) -> None:
    app.command("drift")(drift_command)


def drift_command(
    baseline: Path = typer.Argument(
        ..., help="The reference table (CSV, Parquet, a release's data).", metavar="BASELINE"
    ),
    candidate: Path = typer.Argument(..., help="The table to compare with it.", metavar="CANDIDATE"),
    rules: Path = typer.Option(None, "--rules", help="Value rules whose satisfaction is compared (YAML)."),
    sensitive: list[str] = typer.Option(
        None, "--sensitive", help="A column whose groups' shares (and label rates) are compared.", metavar="COLUMN"
    ),
    target: str = typer.Option(None, "--target", help="With --sensitive: the label whose rate per group is compared."),
    policy: Path = typer.Option(None, "--policy", help="Policy file whose drift: section sets the thresholds."),
    out_dir: Path = typer.Option(Path("drift-report"), "--out", "-o", help="Folder for drift.json and drift.html."),
) -> None:
    """Compare CANDIDATE with BASELINE: rule satisfaction, each column, each pair, group shares and label rates;
    a change drifts when it crosses its threshold and is statistically significant. Exit 1 when something drifted."""
    from rich.table import Table

    from synthgov.constraints.value_rules import load_rules
    from synthgov.governance.drift import Thresholds, compare
    from synthgov.governance.drift_files import write
    from synthgov.governance.guard import Policy
    from synthgov.table.io import read_table

    if target and not sensitive:
        fail("--target compares label rates per group: add --sensitive COLUMN")
    with user_errors():
        limits = Thresholds(**(Policy.load(policy).drift or {})) if policy is not None else Thresholds()
        report = compare(
            read_table(baseline),
            read_table(candidate),
            rules=load_rules(rules) if rules is not None else None,
            sensitive=tuple(sensitive or ()),
            target=target,
            thresholds=limits,
        )
        files = write(report, out_dir, str(baseline), str(candidate))
    drifted = report.drifted
    if drifted:
        view = Table(title=f"{len(drifted)} values drifted ({len(report.findings)} compared)")
        for header in ("kind", "value", "baseline", "candidate", "change", "threshold", "p-value"):
            view.add_column(header, overflow="fold")
        for f in sorted(drifted, key=lambda f: -f.change / max(f.threshold, 1e-12)):
            view.add_row(
                f.kind,
                f.subject,
                "-" if f.baseline is None else f"{f.baseline:.4f}",
                "-" if f.candidate is None else f"{f.candidate:.4f}",
                f"{f.change:.4f}",
                f"{f.threshold:g}",
                f"{f.p_value:.2g}",
            )
        out.print(view)
    else:
        out.print(
            f"[green]no drift[/]: {len(report.findings)} values compared, none crossed its threshold significantly"
        )
    out.print(f"wrote {', '.join(str(p) for p in files)}")
    if drifted:
        raise typer.Exit(1)
