"""``synthgov evaluate``: the quality, privacy and bias report of a synthetic table."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgov.cli.ui import out, progress_bars, user_errors

_COLOURS = {"good": "green", "fair": "yellow", "poor": "red", "info": "blue"}


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)


def evaluate_command(
    real: Path = typer.Argument(
        ..., help="The real table the synthetic data was learned from (CSV or Parquet).", metavar="REAL"
    ),
    synthetic: Path = typer.Argument(..., help="The synthetic table (CSV or Parquet).", metavar="SYNTHETIC"),
    holdout: Path = typer.Option(None, "--holdout", "-H", help="Real rows NOT used for training (privacy, utility)."),
    target: str = typer.Option(None, "--target", "-t", help="Column to predict for utility and bias metrics."),
    sensitive: list[str] = typer.Option(
        None, "--sensitive", "-s", help="Sensitive column for bias metrics (repeatable).", metavar="COLUMN"
    ),
    quick: bool = typer.Option(False, "--quick", help="Fidelity and utility only (seconds)."),
    out_dir: Path = typer.Option(
        Path("synthgov-report"), "--out", "-o", help="Folder for report.json and report.html."
    ),
    schema: Path = typer.Option(None, "--schema", help="Schema file of the real table."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sampled steps (attacks, cross-validation)."),
) -> None:
    """Assess SYNTHETIC against REAL: fidelity, edge cases, utility, privacy risk and bias."""
    from rich.table import Table

    from synthgov.evaluation import evaluate

    with user_errors(), progress_bars():
        declared, hybrid = release_context(synthetic)
        result = evaluate(
            real,
            synthetic,
            holdout,
            target=target,
            sensitive=sensitive or [],
            quick=quick,
            schema=schema,
            seed=seed,
            out=out_dir,
            declared=declared,
            hybrid=hybrid,
        )
    view = Table(title=f"evaluation of {synthetic} ({result.report['seconds']:.1f} s)")
    for header in ("metric", "value", "verdict"):
        view.add_column(header)
    for m in result.metrics:
        colour = _COLOURS.get(m["verdict"], "white")
        view.add_row(m["name"], f"{m['value']:.4f}", f"[{colour}]{m['verdict']}[/]: {m['explanation']}")
    out.print(view)
    for note in result.report["notes"]:
        out.print(f"note: {note}", highlight=False)
    out.print(f"wrote [bold]{out_dir / 'report.json'}[/] and [bold]{out_dir / 'report.html'}[/]")


def release_context(synthetic: Path) -> tuple[dict | None, dict | None]:
    """What the release SYNTHETIC belongs to declares, its folder verified once (verification reads every data
    file): its privacy statement (DP releases) and its hybrid declaration with each row's origin when this
    keystore is the issuer's (:func:`synthgov.pipeline.hybrid.recover_origin`). (None, None) for a table outside
    a release folder; a manifest that does not verify is named and nothing of it is used."""
    from synthgov.errors import InputError
    from synthgov.pipeline.hybrid import recover_origin
    from synthgov.release.verify import load_manifest, verify_release

    folder = synthetic.parent
    if not (folder / "manifest.json").is_file():
        return None, None
    verification = verify_release(folder)
    if not verification.valid:
        out.print(f"note: {folder / 'manifest.json'} does not verify: its privacy statement is not shown")
        return None, None
    predicate = load_manifest(folder)["statement"]["predicate"]
    privacy = predicate.get("privacy") or {}
    declared = privacy if privacy.get("epsilon") is not None else None
    section = predicate.get("hybrid")
    if not section:
        return declared, None
    try:
        origin = recover_origin(folder, verification).to_numpy()
    except InputError as exc:
        out.print(f"note: {exc}", highlight=False)
        origin = None
    return declared, {"real_rows": section["real_rows"], "synthetic_rows": section["synthetic_rows"], "origin": origin}
