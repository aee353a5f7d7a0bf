"""Bias mitigation of a release (``--fair``, issue 21): options checked against the table before fitting, the
strategy's rows drawn (through the value rules, when the release has some), the watermark kept off the columns
the strategy fixes, and the manifest's ``fairness`` section with the figures before (training rows) and after
(the rows as released)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.fairness.groups import GroupSpec
from synthgov.pipeline.run import ReleaseRun

logger = logging.getLogger(__name__)

MAX_CODED_LABELS = 10  # a numeric target with at most this many values is a coded label
PILOT_ROWS = 20_000  # a DP model's own draw that gives the proportions a strategy keeps (post-processing)
NOT_MEASURED_DP = (
    "not measured: a differentially private release reads the real rows only through its mechanisms; the "
    "proportions the strategy keeps come from a draw of the model"
)
METHODS = {
    "rebalance": (
        "each cell (group, and label when a target is given) drawn under exact conditions in whole-row counts of "
        "the requested group shares (largest remainder); each group keeps its own label rates; numeric splits "
        "selected in drawing order from rows drawn under the other conditions"
    ),
    "parity": (
        "each cell (group, label) drawn under exact conditions in whole-row counts of P(group) x P(label) of the "
        "source (statistical parity of the data, Kamiran & Calders' reweighing done by sampling): rows follow the "
        "model's P(other columns | group, label)"
    ),
    "counterfactual": (
        "rows 2k and 2k+1 form a pair: a drawn row, then the same row with the sensitive attribute changed to "
        "another group (uniformly) and its declared descendants drawn again from the model conditioned on every "
        "other modelled column; identifier, personal-data and text columns are fresh in both rows"
    ),
}


WAYS = {
    "select": "selection: rows drawn from the model's unconditional sampler and the first rows of each cell kept in "
    "drawing order (about {factor:.2f} rows drawn per released row, estimated from the source's shares)",
    "condition": "conditions: each cell drawn under its exact conditions (a selection would have drawn about "
    "{factor:.1f} rows per released row)",
}


@dataclass
class FairPlan:
    strategy: str
    specs: list[GroupSpec]
    target: str | None
    positive: Any
    shares: dict[str, float] | None
    descendants: list[str]
    before: dict[str, Any] | None  # None for a DP release
    cells: dict[str, int] = field(default_factory=dict)
    way: str = ""  # select (from plain draws) or condition (each cell under its conditions)
    factor: float = 0.0  # rows a selection needs per released row (estimated from the source's shares)


def prepare(run: ReleaseRun) -> None:
    """Check ``--fair`` and its options against the training table, before any fitting."""
    options = run.options
    if not options.fair:
        for name in ("strategy", "shares", "descendants"):
            if getattr(options, name):
                raise InputError(f"--{name} is an option of --fair: name the sensitive column(s) with --fair")
        return
    from synthgov.fairness.figures import group_figures
    from synthgov.fairness.groups import parse_fair
    from synthgov.fairness.strategies import STRATEGIES, parse_shares, positive_label
    from synthgov.pipeline.privacy import is_private

    strategy = options.strategy or ("parity" if options.target and not options.shares else "rebalance")
    if strategy not in STRATEGIES:
        raise InputError(f"unknown --strategy '{strategy}' (choose one of: {', '.join(STRATEGIES)})")
    table = run.table
    if table is None:
        raise InputError("--fair applies to generators that learn from a table")
    _refuse_combinations(run, strategy)
    private = is_private(run.generator, options.params)
    schema = _schema(run, private)
    kinds = {c.name: c.kind for c in schema.columns}
    declared = {c.name: c.categories for c in schema.columns} if private else None
    specs = parse_fair(list(options.fair), table, kinds, declared)
    target = _check_target(options.target, table, kinds, specs, strategy, declared)
    if strategy == "counterfactual" and (len(specs) != 1 or specs[0].is_split):
        raise InputError("--strategy counterfactual takes one categorical --fair column")
    shares = parse_shares(options.shares, specs)
    if shares and strategy != "rebalance":
        raise InputError("--shares is an option of --strategy rebalance")
    descendants = _descendants(options.descendants, target, specs, table, strategy)
    positive = positive_label(table[target]) if target is not None and not private else None
    before = None if private else group_figures(table, specs, target, positive)
    run.fair = FairPlan(strategy, specs, target, positive, shares, descendants, before)


def _refuse_combinations(run: ReleaseRun, strategy: str) -> None:
    options = run.options
    if options.mode != "full":
        raise InputError(f"--fair applies to fully synthetic releases; a {options.mode} release keeps real values")
    if options.privacy_filter:
        raise InputError("--fair and --privacy-filter cannot be combined yet: the filter's redraws would move the "
                         "strategy's exact counts")  # fmt: skip
    if options.conditions is not None:
        raise InputError("--fair sets the conditions of every row itself; drop --conditions")
    if strategy == "counterfactual" and run.rules is not None:
        raise InputError("--strategy counterfactual cannot be combined with --rules: a rule could forbid the "
                         "counterpart that the pair needs")  # fmt: skip


def _schema(run: ReleaseRun, private: bool) -> Any:
    """The schema the checks read: a DP release's declared one (nothing inferred from the rows), else the given
    or inferred one."""
    from synthgov.table.infer import infer_schema
    from synthgov.table.schema import Schema

    if private:
        from synthgov.privacy.cells import dp_schema

        return dp_schema(run.table, run.options.schema)
    schema = run.options.schema
    if schema is None:
        return infer_schema(run.table)
    return schema if isinstance(schema, Schema) else Schema.load(schema)


def _check_target(
    target: str | None,
    table: pd.DataFrame,
    kinds: dict[str, str],
    specs: list[GroupSpec],
    strategy: str,
    declared: dict[str, Any] | None,
) -> str | None:
    if target is None:
        if strategy == "parity":
            raise InputError("--strategy parity equalises the label rates of the groups: name the label with --target")
        return None
    if target not in table.columns:
        raise InputError(f"--target column '{target}' is not in the table")
    if target in {s.column for s in specs}:
        raise InputError(f"--target '{target}' is also a --fair column")
    if declared is not None:  # a DP release: the label's classes are its public categories
        if kinds.get(target) not in ("categorical", "boolean") or not declared.get(target):
            raise InputError(f"--target '{target}' needs public categories in the schema of a DP release")
        return target
    distinct = table[target].nunique()
    coded = kinds.get(target) == "numeric" and distinct <= MAX_CODED_LABELS  # a label coded as numbers (1 / 2)
    if kinds.get(target) not in ("categorical", "boolean") and not coded:
        raise InputError(
            f"--target '{target}' is {kinds.get(target)} with {distinct:,} values: --fair compares the rates of a "
            "categorical label"
        )
    if table[target].isna().any():
        raise InputError(f"--target '{target}' has missing values: --fair needs a label on every row")
    return target


def _descendants(
    named: Any, target: str | None, specs: list[GroupSpec], table: pd.DataFrame, strategy: str
) -> list[str]:
    listed = [c.strip() for entry in (named or ()) for c in str(entry).split(",") if c.strip()]
    if listed and strategy != "counterfactual":
        raise InputError("--descendants is an option of --strategy counterfactual")
    if strategy != "counterfactual":
        return []
    for column in listed:
        if column not in table.columns:
            raise InputError(f"--descendants column '{column}' is not in the table")
        if column in {s.column for s in specs}:
            raise InputError(f"--descendants names the sensitive column '{column}' itself")
    return listed or ([target] if target is not None else [])


def sample(run: ReleaseRun, rows: int) -> pd.DataFrame:
    """The release's rows under its strategy (through the value rules when it has some)."""
    from synthgov.fairness.counterfactual import counterfactual_pairs
    from synthgov.fairness.sampling import MAX_SELECTION_FACTOR, draw_cells, selection_factor
    from synthgov.fairness.strategies import cell_counts, cell_shares
    from synthgov.pipeline.value_rules import draw

    plan = run.fair
    rng = np.random.default_rng([int(run.model.seed_), 2121])

    def one(n: int, seed: int, conditions: Any) -> pd.DataFrame:
        return draw(run, n, seed, conditions)

    if plan.strategy == "counterfactual":
        fresh = _fresh(run)
        modelled = [c for c in run.model.schema_.names if c not in fresh]
        kept = [c for c in modelled if c not in plan.descendants and c != plan.specs[0].column]
        data = counterfactual_pairs(one, rows, plan.specs[0], plan.descendants, kept, rng)
        plan.cells = {"pairs": rows // 2}
        return data
    source = run.table if plan.before is not None else run.model.sample(PILOT_ROWS, seed=int(rng.integers(2**63)))
    if plan.target is not None and plan.positive is None:  # a DP release: the positive label from the model's draw
        from synthgov.fairness.strategies import positive_label

        plan.positive = positive_label(source[plan.target])
    shares = cell_shares(plan.strategy, plan.specs, source, plan.target, plan.shares)
    counts = cell_counts(shares, rows, len(plan.specs))
    plan.cells = {" & ".join(map(str, cell)): count for cell, count in counts.items()}
    observed = cell_shares("as-is", plan.specs, source, plan.target, None)
    plan.factor = selection_factor(shares, observed)
    plan.way = "select" if plan.factor <= MAX_SELECTION_FACTOR else "condition"
    return draw_cells(one, counts, plan.specs, plan.target, rng, select=plan.way == "select")


def _fresh(run: ReleaseRun) -> set[str]:
    """Columns the model makes anew (identifiers, personal data, free text): never conditioned, fresh in each row."""
    from synthgov.constraints.enforcement import FRESH_KINDS

    return {c.name for c in run.model.schema_.columns if c.kind in FRESH_KINDS}


def carriers(run: ReleaseRun, columns: list[str]) -> list[str]:
    """The columns the watermark may change: none the strategy fixes (sensitive columns, the label; for
    counterfactual pairs, every column but the descendants)."""
    plan = run.fair
    if plan is None:
        return columns
    if plan.strategy == "counterfactual":
        return [c for c in columns if c in plan.descendants]
    fixed = {s.column for s in plan.specs} | ({plan.target} if plan.target else set())
    return [c for c in columns if c not in fixed]


def section(run: ReleaseRun) -> dict[str, Any] | None:
    """The manifest's ``fairness`` section, its ``after`` figures measured here on the rows as released."""
    plan = run.fair
    if plan is None:
        return None
    from synthgov.fairness.figures import group_figures

    assert run.data is not None
    out: dict[str, Any] = {
        "strategy": plan.strategy,
        "sensitive": [s.text for s in plan.specs],
        "target": plan.target,
        "positive_label": None if plan.positive is None else str(plan.positive),
        "method": METHODS[plan.strategy],
        "measure": "group shares and positive-label rates per group; demographic-parity difference = max - min "
        "rate, disparate-impact ratio = min / max rate (fairlearn's definitions applied to the label column)",
        "before": plan.before if plan.before is not None else NOT_MEASURED_DP,
        "after": group_figures(run.data, plan.specs, plan.target, plan.positive),
    }
    if plan.strategy == "rebalance":
        from synthgov.fairness.strategies import requested_shares

        out["requested_shares"] = {
            s.text: requested_shares(s, run.table if plan.before is not None else run.data, plan.shares)
            for s in plan.specs
        }
    if plan.strategy == "counterfactual":
        out.update(_pairs_section(run, plan))
    else:
        out["rows_per_cell"] = plan.cells
        out["drawn_by"] = WAYS[plan.way].format(factor=plan.factor)
    return out


def _pairs_section(run: ReleaseRun, plan: FairPlan) -> dict[str, Any]:
    from synthgov.fairness.counterfactual import differing_columns

    data = run.data
    pairs = len(data) // 2
    differ = differing_columns(data.iloc[0 : 2 * pairs : 2], data.iloc[1 : 2 * pairs : 2])
    fresh = _fresh(run)
    allowed = {plan.specs[0].column, *plan.descendants, *fresh}
    elsewhere = {c: k for c, k in differ.items() if k and c not in allowed}
    if elsewhere:
        raise RuntimeError(f"counterfactual pairs differ outside the sensitive column and its descendants: {elsewhere}")
    return {
        "pairs": pairs,
        "pair_layout": "rows 2k and 2k+1 (0-based) form pair k",
        "descendants": plan.descendants,
        "pairs_differing_per_column": {c: k for c, k in differ.items() if k},
        "pairs_differing_elsewhere": 0,
    }
