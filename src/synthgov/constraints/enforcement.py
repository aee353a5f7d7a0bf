"""Every generated row satisfies every value rule, by exact conditional resampling (issue 21).

The method, for any generator whose conditions are exact (all of synthgov's data-driven generators):

1. draw ``n`` rows as usual (the same rows as without rules, for the same seed);
2. the rows that break a rule keep nothing but their own conditions: the values of *every* rule column are taken
   from a donor, a row that the same model drew under the same conditions and that satisfies every rule, and the
   rest of the row is drawn by the model conditioned on them.

Why this is exact: a donor is a draw of P(x | conditions, rules hold), so its rule columns follow
P(rule columns | conditions, rules hold); the rest of the row is drawn from P(rest | rule columns, conditions),
and because the rules read only the rule columns, P(x | rules hold) = P(rule columns | rules hold) · P(rest | rule
columns). The result has the distribution that rejection sampling would give with unlimited tries, with no tries
at all: every row satisfies every rule by construction. Donors come without replacement from the first draw's
satisfying rows, topped up by one more draw sized by the measured satisfaction rate when they are too few. A
``unique`` column takes donors from fresh draws only, with values not used yet.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.constraints.value_rules import RuleSet
from synthgov.errors import InputError

logger = logging.getLogger(__name__)

METHOD = (
    "exact conditional resampling: a row that breaks a rule takes every rule column from a rule-satisfying row that "
    "the same model drew under the same conditions, and the model draws the rest of the row conditioned on them; "
    "every released row is then checked against every rule"
)
MIN_EXTRA_DRAW = 1_000
MAX_EXTRA_FACTOR = 50  # one top-up draw is at most this many times the rows that need donors (plus MIN_EXTRA_DRAW)


class RulesNotSatisfiable(InputError):
    """The model gives (almost) no row that satisfies the rules under the requested conditions."""


def sample_satisfying(
    model: Any, n: int, rules: RuleSet, *, seed: int | None = None, conditions: Any = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``n`` rows of ``model`` that satisfy every rule of ``rules``, and what it took (for the manifest)."""
    if seed is None:  # the model's own replayable stream, as model.sample(n) without a seed would use
        seed = int(model._sample_rng(None).integers(2**63))
    streams = np.random.default_rng([seed, 21])
    rules.check_columns(list(model.schema_.names))
    _check_unique_feasible(model, rules, n)
    data = model.sample(n, seed=seed, conditions=conditions).reset_index(drop=True)
    held = rules.holds(data)
    drawn = rules.violations(data, held)
    bad = ~rules.satisfied(data, held)
    for column in rules.unique_columns:
        bad |= data[column].duplicated(keep="first").to_numpy() & data[column].notna().to_numpy()
    redrawn = int(bad.sum())
    if redrawn:
        with progress.step(f"rules: {redrawn:,} of {n:,} rows drawn again under rule-satisfying conditions"):
            rows = np.flatnonzero(bad)
            wanted = _resample_conditions(model, rules, data, ~bad, rows, conditions, streams)
            fresh = model.sample(rows.size, seed=int(streams.integers(2**63)), conditions=wanted)
            fresh.index = rows
            data.iloc[rows] = fresh[data.columns]
    left = rules.violations(data)
    broken = {name: count for name, count in left.items() if count}
    if broken:  # a generator that does not keep its conditions exactly: a bug, never a silent wrong release
        raise RuntimeError(f"{model.name}: rows still break rules after resampling: {broken}")
    logger.info("rules: %d of %d rows drawn again; 0 violations in the released rows", redrawn, n)
    return data, {
        "method": METHOD,
        "rows": n,
        "rows_drawn_again": redrawn,
        "violations_in_first_draw": drawn,
        "violations_released": left,
    }


def _check_unique_feasible(model: Any, rules: RuleSet, n: int) -> None:
    from synthgov.generators.marginals import CategoricalMarginal

    marginals = getattr(getattr(model, "transformer_", None), "marginals", {})
    for column in rules.unique_columns:
        marginal = marginals.get(column)
        if isinstance(marginal, CategoricalMarginal) and len(marginal.categories) < n:
            raise InputError(
                f"rule '{column} is unique' cannot hold in {n:,} rows: the column has {len(marginal.categories)} "
                "categories"
            )


def _condition_keys(conditions: Any, n: int) -> tuple[pd.DataFrame | None, np.ndarray]:
    """Per row, the index of its distinct condition (all 0 without per-row conditions)."""
    if isinstance(conditions, pd.DataFrame):
        frame = conditions.reset_index(drop=True)
        if len(frame) != n:
            raise InputError(f"conditions have {len(frame)} rows for {n} rows asked")
        codes = frame.astype(object).where(frame.notna(), None).astype(str).agg("\x00".join, axis=1)
        return frame, pd.factorize(codes)[0]
    return None, np.zeros(n, dtype=np.int64)


def _resample_conditions(
    model: Any,
    rules: RuleSet,
    data: pd.DataFrame,
    valid: np.ndarray,
    rows: np.ndarray,
    conditions: Any,
    streams: np.random.Generator,
) -> pd.DataFrame:
    """For each row to draw again: its own conditions plus the rule columns of a donor drawn under them."""
    per_row, keys = _condition_keys(conditions, len(data))
    columns = rules.columns
    wanted = pd.DataFrame(index=range(rows.size), columns=columns, dtype=object)
    for column in columns:
        wanted[column] = data[column].iloc[:0].reindex(range(rows.size)).to_numpy()
    used = {c: set(data.loc[valid, c].dropna().tolist()) for c in rules.unique_columns}
    for key in np.unique(keys[rows]):
        targets = np.flatnonzero(keys[rows] == key)
        first = int(rows[targets[0]])
        group_conditions = _group_conditions(conditions, per_row, first)
        own = np.flatnonzero((keys == key) & valid)
        pool = data.iloc[own] if not rules.unique_columns else data.iloc[:0]
        share = own.size / max(int((keys == key).sum()), 1)
        if len(pool) < targets.size:
            pool = pd.concat(
                [pool, _extra_donors(model, rules, targets.size - len(pool), share, group_conditions, used, streams)],
                ignore_index=True,
            )
        if pool.empty:
            raise RulesNotSatisfiable(_unsatisfiable(model, rules, group_conditions))
        if len(pool) >= targets.size:
            chosen = streams.choice(len(pool), size=targets.size, replace=False)
        elif rules.unique_columns:
            raise RulesNotSatisfiable(
                f"{model.name}: too few unused values for the unique column(s) {', '.join(rules.unique_columns)}"
            )
        else:
            chosen = streams.choice(len(pool), size=targets.size, replace=True)
        donors = pool.iloc[chosen]
        for column in columns:
            wanted.loc[targets, column] = donors[column].to_numpy()
            if column in used:
                used[column].update(donors[column].dropna().tolist())
    if per_row is not None:
        own = per_row.iloc[rows].reset_index(drop=True)
        for column in own.columns:
            if column not in columns:
                wanted[column] = own[column].to_numpy()
    elif conditions:
        for column, value in dict(conditions).items():
            if column not in columns:
                wanted[column] = [value] * rows.size
    for column in columns:  # keep each column's type (numbers, datetimes) for the model's condition checks
        wanted[column] = pd.Series(wanted[column].to_numpy(), dtype=data[column].dtype)
    return wanted


def _group_conditions(conditions: Any, per_row: pd.DataFrame | None, row: int) -> dict[str, Any] | None:
    if per_row is not None:
        record = per_row.iloc[row]
        return {k: v for k, v in record.items() if not pd.isna(v)}
    return dict(conditions) if conditions else None


def _extra_donors(
    model: Any,
    rules: RuleSet,
    need: int,
    share: float,
    conditions: dict[str, Any] | None,
    used: dict[str, set[Any]],
    streams: np.random.Generator,
) -> pd.DataFrame:
    """One more draw under the group's conditions, sized so that ``need`` satisfying rows are expected; its rows
    that satisfy every rule (and use no taken value of a unique column)."""
    rate = max(share, 1.0 / MAX_EXTRA_FACTOR)
    size = min(math.ceil(1.5 * need / rate) + MIN_EXTRA_DRAW, MAX_EXTRA_FACTOR * need + MIN_EXTRA_DRAW)
    extra = model.sample(size, seed=int(streams.integers(2**63)), conditions=conditions).reset_index(drop=True)
    keep = rules.satisfied(extra)
    for column, taken in used.items():
        values = extra[column]
        keep &= ~values.isin(list(taken)).to_numpy() & ~values.duplicated(keep="first").to_numpy()
    logger.info("rules: %d more rows drawn for donors, %d satisfy every rule", size, int(keep.sum()))
    return extra.loc[keep]


def _unsatisfiable(model: Any, rules: RuleSet, conditions: dict[str, Any] | None) -> str:
    where = f" under the conditions {conditions}" if conditions else ""
    return (
        f"the {model.name} model gives no row that satisfies every rule{where}; check the rules against the data "
        f"(synthgov reports each rule's real violation rate before fitting): {', '.join(r.name for r in rules)}"
    )
