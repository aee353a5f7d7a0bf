"""``synthgov audit``: check a release against a policy of clauses and write a signed audit certificate."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthgov.cli.ui import err, out, progress_bars, user_errors


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)


def audit_command(
    release: Path = typer.Argument(..., help="The release folder to audit (with manifest.json).", metavar="RELEASE"),
    policy: str = typer.Option(
        ...,
        "--policy",
        "-p",
        help="Audit policy: a YAML file, or a shipped policy (internal-sharing, public-release, regulated-health).",
        metavar="FILE|NAME",
    ),
    real: Path = typer.Option(
        None, "--real", "-r", help="The real table the release was made from: evaluate here (else its signed report)."
    ),
    holdout: Path = typer.Option(None, "--holdout", "-H", help="Real rows NOT used for training (privacy risks)."),
    target: str = typer.Option(None, "--target", "-t", help="Column to predict for utility and bias clauses."),
    sensitive: list[str] = typer.Option(
        None, "--sensitive", "-s", help="Sensitive column for bias clauses (repeatable).", metavar="COLUMN"
    ),
    out_path: Path = typer.Option(
        None, "--out", "-o", help="Where to write the certificate (default: audit-<release>-<policy>.json here)."
    ),
    auditor: str = typer.Option(None, "--auditor", help="Who audits (default: user@host); signed with your key."),
    seed: int = typer.Option(0, "--seed", help="Seed of the evaluation's sampled steps."),
) -> None:
    """Audit RELEASE against a policy: verify it, evaluate it (or reuse its signed report), test every clause, and
    write a signed audit certificate. Exit 0 when every clause passes, 1 when one fails, 2 on bad input."""
    from rich.table import Table

    from synthgov.governance.audit import audit

    with user_errors():
        if real is None and holdout is not None:
            from synthgov.errors import InputError

            raise InputError("--holdout needs --real (the evaluation compares the release with both)")
        with progress_bars():
            result = audit(
                release,
                policy,
                real=real,
                holdout=holdout,
                target=target,
                sensitive=sensitive or [],
                auditor=auditor,
                seed=seed,
            )
        predicate = result.certificate["statement"]["predicate"]
        name = predicate["policy"]["name"]
        target_path = out_path or Path(f"audit-{str(predicate['release']['id'])[:8]}-{name}.json")
        from synthgov.atomic import write_bytes

        write_bytes(target_path, (json.dumps(result.certificate, indent=1) + "\n").encode(), 0o644)
    view = Table(title=f"audit of {release} against {name} ({predicate['evaluation']['source']})")
    for header in ("clause", "fact", "test", "measured", "result"):
        view.add_column(header, overflow="fold")
    for clause in result.clauses:
        measured = clause["measured"]
        shown = _shown(measured)
        verdict = "[green]pass[/]" if clause["passed"] else f"[red]FAIL[/]: {clause['reason']}"
        view.add_row(clause["id"], clause["fact"], f"{clause['test']} {_shown(clause['threshold'])}", shown, verdict)
    out.print(view)
    summary = predicate["summary"]
    if result.passed:
        out.print(f"[bold green]PASS[/]: {summary}; signed certificate {target_path}", highlight=False)
    else:
        err.print(f"[bold red]FAIL[/]: {summary}; signed certificate {target_path}", highlight=False)
    raise typer.Exit(code=0 if result.passed else 1)


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k.split('.')[-2] if '.' in k else k}: {_shown(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
