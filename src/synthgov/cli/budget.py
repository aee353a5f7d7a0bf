"""``synthgov budget [SOURCE]``: what the DP releases have spent of each source's privacy budget."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgov.cli.ui import out, user_errors


def register(app: typer.Typer) -> None:
    app.command("budget")(budget_command)


def budget_command(
    source: Path = typer.Argument(
        None, help="The source table (CSV or Parquet); default: every source with a DP release.", metavar="SOURCE"
    ),
    delta: float = typer.Option(None, "--delta", help="State spent epsilon at this delta (default: the policy's)."),
    policy: Path = typer.Option(None, "--policy", help="Policy file with max_epsilon (default $SYNTHGOV_HOME's)."),
) -> None:
    """Show the privacy budget spent on SOURCE (composed in zCDP), release by release with each itemised line."""
    from rich.table import Table

    from synthgov.governance.guard import Policy
    from synthgov.privacy import budget
    from synthgov.privacy.accounting import check_epsilon_delta
    from synthgov.table.io import read_table

    with user_errors():
        rules = Policy.load(policy)
        at = delta if delta is not None else rules.budget_delta or budget.DEFAULT_BUDGET_DELTA
        check_epsilon_delta(1.0, at)
        keys = [budget.source_key(read_table(source))] if source is not None else budget.sources()
        listed = [(key, budget.charges(key)) for key in keys]
    if not any(charges for _, charges in listed):
        out.print(f"no DP release has been charged to {source or 'any source'} yet")
        return
    cap = f" of max_epsilon {rules.max_epsilon:g}" if rules.max_epsilon is not None else " (no cap in the policy)"
    for key, charges in listed:
        total = budget.spent(charges, at)
        view = Table(title=f"source {key[:16]}: spent epsilon {total['epsilon']:.3g}{cap} at delta {at:g}")
        for header in ("release", "status", "epsilon", "delta", "part (mechanism)", "rho"):
            view.add_column(header, overflow="fold")
        for c in charges:
            for i, line in enumerate(c.lines):
                first = i == 0
                view.add_row(
                    f"{c.release_id[:8]} {c.generator} {c.created[:10]}" if first else "",
                    c.status if first else "",
                    f"{c.epsilon:g}" if first else "",
                    f"{c.delta:g}" if first else "",
                    f"{line['part']} ({line['mechanism']})",
                    f"{line['rho']:.4g}" if line.get("rho") is not None else "RDP curve",
                    end_section=i == len(c.lines) - 1,
                )
        out.print(view)
        out.print(f"composition: {total['composition']}; void releases cost nothing")
