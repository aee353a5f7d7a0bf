"""``synthgov adversarial TRAIN --target T``: constrained adversarial rows against a classifier trained on TRAIN,
adversarial retraining with correctly labelled versions, and the robustness report (JSON + HTML)."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgov.cli.ui import out, progress_bars, user_errors


def register(app: typer.Typer) -> None:
    app.command("adversarial")(adversarial_command)


def adversarial_command(
    train: Path = typer.Argument(..., help="The training table (CSV or Parquet).", metavar="TRAIN"),
    target: str = typer.Option(..., "--target", help="The binary label the classifier predicts."),
    test: Path = typer.Option(None, "--test", help="Real rows never trained on (default: a seeded 20% of TRAIN)."),
    rules: Path = typer.Option(None, "--rules", help="Value rules every adversarial row satisfies (YAML)."),
    immutable: list[str] = typer.Option(
        None, "--immutable", help="A column the attack may not change (repeat).", metavar="COLUMN"
    ),
    schema: Path = typer.Option(None, "--schema", help="Schema file (column kinds); default: inferred."),
    budget: float = typer.Option(
        0.05, "--budget", help="How far a numeric column may move, as a share of its training range."
    ),
    max_categorical: int = typer.Option(1, "--max-categorical", help="Categorical columns changed per row, at most."),
    rounds: int = typer.Option(2, "--rounds", help="Rounds of adversarial retraining."),
    attack_class: str = typer.Option(
        None, "--attack-class", help="The class whose rows are attacked (default: the majority class)."
    ),
    edge_cases: int = typer.Option(200, "--edge-cases", help="Edge cases from the generator's low-density rows."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, the attacks and the edge cases."),
    out_dir: Path = typer.Option(Path("robustness"), "--out", "-o", help="Folder for the report and the rows."),
) -> None:
    """Attack a gradient-boosting model of TARGET with minimal changes that keep the schema, the rules and the
    immutable columns; retrain it with the adversarial rows correctly labelled; attack again and report both."""
    from synthgov.adversarial import harden
    from synthgov.adversarial.files import write

    if rounds < 0:
        from synthgov.cli.ui import fail

        fail(f"--rounds must be >= 0, got {rounds}")
    with user_errors(), progress_bars():
        result = harden(
            train,
            target,
            test=test,
            rules=rules,
            immutable=tuple(immutable or ()),
            budget=budget,
            max_categorical=max_categorical,
            rounds=rounds,
            attack_class=attack_class,
            edge_cases=edge_cases,
            schema=schema,
            seed=seed,
        )
        write(result, out_dir, str(train))
    report = result["report"]
    before, after = report["before"], report["after"]
    out.print(
        f"attack success rate {before['success_rate']:.1%} -> {after['success_rate']:.1%} after {report['rounds']} "
        f"rounds of adversarial retraining; clean AUC {before['clean_auc']:.4f} -> {after['clean_auc']:.4f}",
        markup=False,
    )
    out.print(f"wrote {out_dir}/robustness.json, robustness.html and the rows (Parquet)", markup=False)
