"""``synthgov collapse`` (the model-collapse laboratory) and ``synthgov guard`` (is this training table
synthetic?)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthgov.cli.ui import err, fail, out, progress_bars, user_errors


def register(app: typer.Typer) -> None:
    app.command("collapse")(collapse_command)
    app.command("guard")(guard_command)


def collapse_command(
    source: Path = typer.Argument(
        ..., help="The real table (CSV or Parquet) generation 1 learns from.", metavar="SOURCE"
    ),
    generator: list[str] = typer.Option(
        ["copula"], "--generator", "-g", help="Generator (repeatable).", metavar="NAME"
    ),
    generations: int = typer.Option(10, "--generations", "-k", help="Generations per regime."),
    regime: list[str] = typer.Option(
        ["replace", "accumulate"], "--regime", "-r", help="replace | accumulate | fresh (repeatable).", metavar="REGIME"
    ),
    rows: int = typer.Option(None, "--rows", "-n", help="Rows per generation (a seeded sample of the input)."),
    test: Path = typer.Option(None, "--test", help="Real rows never trained on, for train-on-synthetic AUC."),
    target: str = typer.Option(
        None, "--target", help="Column to predict: categorical, or numbers with two values (default: the last column)."
    ),
    schema: Path = typer.Option(None, "--schema", help="Schema file (from `synthgov schema`) overriding inference."),
    fresh_share: float = typer.Option(0.1, "--fresh-share", help="Share of real rows per generation (fresh)."),
    epochs: int = typer.Option(None, "--epochs", help="Epochs of neural generators (default: theirs)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random step."),
    out_dir: Path = typer.Option(Path("synthgov-collapse"), "--out", "-o", help="Folder for JSON, CSV and HTML."),
    allow_synthetic: bool = typer.Option(False, "--allow-synthetic", help="Study a table that is itself synthetic."),
    rules: Path = typer.Option(None, "--rules", help="Value rules whose satisfaction each generation reports."),
    sensitive: list[str] = typer.Option(
        None,
        "--sensitive",
        help="A column whose group shares (and target rates) the drift monitor compares.",
        metavar="COLUMN",
    ),
) -> None:
    """Run GENERATIONS generations of each generator on its own output under each regime and report, against
    the real table, fidelity, tails, variance, dead and rare categories, detectability and utility."""
    from synthgov.collapse.laboratory import run_collapse

    if not 0 <= fresh_share <= 1:
        fail(f"--fresh-share must be between 0 and 1, got {fresh_share}")
    if epochs is not None and epochs < 1:
        fail(f"--epochs must be a positive integer, got {epochs}")
    with user_errors(), progress_bars():
        result = run_collapse(
            source,
            generators=generator,
            regimes=regime,
            generations=generations,
            rows=rows,
            test=test,
            target=target,
            schema=schema,
            fresh_share=fresh_share,
            seed=seed,
            params={"epochs": epochs} if epochs is not None else None,
            out=out_dir,
            allow_synthetic=allow_synthetic,
            rules=rules,
            sensitive=tuple(sensitive or ()),
        )
    from rich.table import Table

    view = Table(title="last generation vs generation 1")
    for column in ("generator", "regime", "verdict", "shapes", "trends", "tail mass", "variance", "died", "AUC"):
        view.add_column(column)
    for v in result.verdicts:
        d = v["drift_from_generation_1"]
        view.add_row(
            v["generator"],
            v["regime"],
            v["verdict"],
            *(f"{d[m]:+.3f}" if m in d else "-" for m in ("column_shapes", "column_pair_trends", "tail_mass_ratio")),
            f"{d['variance_ratio']:+.3f}" if "variance_ratio" in d else "-",
            f"{d['categories_died']:+.0f}" if "categories_died" in d else "-",
            f"{d['tstr_auc']:+.3f}" if "tstr_auc" in d else "-",
        )
    out.print(view)
    out.print(f"report: [bold]{out_dir / 'collapse.html'}[/] (table: collapse.json, collapse.csv)")


def guard_command(
    table: Path = typer.Argument(
        ...,
        help="A table (CSV, Parquet, a folder of part-*.parquet) to train on, or a release folder.",
        metavar="TABLE",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Is TABLE synthetic (one of this issuer's releases, by manifest, ledger or watermark)? Exit 0 no, 1 yes."""
    from synthgov.governance.guard import inspect_chunks
    from synthgov.table.io import read_chunks, release_data

    with user_errors():
        path = release_data(table)
        verdict = inspect_chunks(read_chunks(path), path)  # one partition (or row group) in memory at a time
    if as_json:
        typer.echo(json.dumps(verdict.to_dict()))
    elif verdict.synthetic:
        out.print(f"[bold yellow]SYNTHETIC[/]: {verdict.describe()}", highlight=False)
        err.print(f"a model trained on it would be generation depth {verdict.generation_depth}")
    else:
        out.print(verdict.describe(), highlight=False)
    raise typer.Exit(code=1 if verdict.synthetic else 0)
