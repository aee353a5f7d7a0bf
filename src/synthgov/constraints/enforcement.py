"""Every generated row satisfies every value rule, by whole-row replacement and exact conditional resampling
(issue 21).

The method, for any generator whose conditions are exact (all of synthgov's data-driven generators):

1. draw ``n`` rows as usual (the same rows as without rules, for the same seed);
2. for the generators whose row-by-row conditions on many columns are approximate (ctgan, tvae, ddpm) or slow
   (bayesnet, mst, aim), the rows that break a rule are replaced by whole rule-satisfying rows of one more draw
   under the same conditions, sized from the measured satisfaction rate (:data:`WHOLE_ROW_POOL` candidates per row
   to replace);
3. every row still to replace (all of them for the other generators) keeps nothing but its own conditions: the
   values of *every* rule column are taken from a donor, a row that the same model drew under the same conditions
   and that satisfies every rule, and the rest of the row is drawn by the model conditioned on them. This step always
   completes: no rejection loop, no give-up.

Why this is exact: a donor is a draw of P(x | conditions, rules hold), so its rule columns follow
P(rule columns | conditions, rules hold); the rest of the row is drawn from P(rest | rule columns, conditions),
and because the rules read only the rule columns, P(x | rules hold) = P(rule columns | rules hold) · P(rest | rule
columns). The result has the distribution that rejection sampling would give with unlimited tries, with no tries
at all: every row satisfies every rule by construction. Whole rows of step 2 are draws of P(x | rules hold)
themselves (and need no conditioning, which some generators only approximate over many columns). Donors of step 3
come without replacement from the first draw's satisfying rows, topped up by one more draw sized by the measured
satisfaction rate when they are too few. A ``unique`` column takes values not used yet. By default the candidates
of steps 2 and 3 are weighted (iterative proportional fitting) so that each rule column keeps the marginal of the
model's first draw; ``keep_marginals=False`` draws them uniformly (the model conditioned on the rules, exactly).
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
    "a row that breaks a rule is replaced by a whole rule-satisfying row of one more draw of the model under the same "
    "conditions; any still missing by exact conditional resampling (every rule column from a rule-satisfying row the "
    "model drew, the rest of the row drawn conditioned on them); every released row is then checked against every "
    "rule"
)
MARGINALS = (
    "; donors are weighted by iterative proportional fitting so that each rule column keeps the marginal of the "
    "model's first draw (numbers in deciles)"
)
EXACT = "; donors are drawn uniformly, so the rows follow the model conditioned on the rules"
FRESH_KINDS = ("id", "text", "pii")
MIN_EXTRA_DRAW = 1_000
WHOLE_ROW_POOL = 3  # rule-satisfying rows of the extra draw per row to replace (room to keep the marginals)
IPF_ROUNDS = 25
POOL_PER_ROW = 20  # donors considered per row drawn again (at least MIN_POOL)
MIN_POOL = 5_000
BINS = 10
MAX_EXTRA_FACTOR = 50  # one top-up draw is at most this many times the rows that need donors (plus MIN_EXTRA_DRAW)


class RulesNotSatisfiable(InputError):
    """The model gives (almost) no row that satisfies the rules under the requested conditions."""


def sample_satisfying(
    model: Any,
    n: int,
    rules: RuleSet,
    *,
    seed: int | None = None,
    conditions: Any = None,
    keep_marginals: bool = True,
    whole_rows: bool | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``n`` rows of ``model`` that satisfy every rule of ``rules``, and what it took (for the manifest).
    ``keep_marginals`` (default): donors are weighted so that each rule column keeps the first draw's marginal;
    False: donors are uniform, so the rows follow the model conditioned on the rules exactly. ``whole_rows``: a row
    that breaks a rule is first replaced by a whole rule-satisfying row of one more draw (no conditioning needed);
    False: every such row goes through conditional resampling; None (default): whole rows for the generators whose
    row-by-row conditions on many columns are approximate (ctgan, tvae, ddpm) or slow (bayesnet, mst, aim), conditional
    resampling for the others (benchmarks/value_rules.py measured each way)."""
    if whole_rows is None:
        whole_rows = bool(getattr(model, "rules_replace_whole_rows", False))
    if seed is None:  # the model's own replayable stream, as model.sample(n) without a seed would use
        seed = int(model._sample_rng(None).integers(2**63))
    streams = np.random.default_rng([seed, 21])
    rules.check_columns(list(model.schema_.names))
    _check_unique_feasible(model, rules, n)
    _check_modelled(model, rules)
    data = model.sample(n, seed=seed, conditions=conditions).reset_index(drop=True)
    held = rules.holds(data)
    drawn = rules.violations(data, held)
    bad = ~rules.satisfied(data, held)
    for column in rules.unique_columns:
        bad |= data[column].duplicated(keep="first").to_numpy() & data[column].notna().to_numpy()
    redrawn = int(bad.sum())
    fresh_columns = [c for c in data.columns if c in _generated_fresh(model)]
    first_fresh = data[fresh_columns].copy()
    if redrawn:
        with progress.step(f"rules: {redrawn:,} of {n:,} rows drawn again under rule-satisfying conditions"):
            rows = np.flatnonzero(bad)
            if whole_rows:
                rows = _replace_whole_rows(model, rules, data, ~bad, rows, conditions, streams, keep_marginals)
            conditioned = int(rows.size)
            if rows.size:
                wanted = _resample_conditions(model, rules, data, ~bad, rows, conditions, streams, keep_marginals)
                fresh = model.sample(rows.size, seed=int(streams.integers(2**63)), conditions=wanted)
                fresh.index = rows
                data.iloc[rows] = fresh[data.columns]
        # identifiers (and fake personal data, text) stay those of the first draw: unique across the whole table,
        # where a second call would make its own, which may repeat the first call's
        for column in fresh_columns:
            data[column] = first_fresh[column]
    else:
        conditioned = 0
    # checked again: the rows drawn again (the others were checked above), and every unique column whole
    again = data.iloc[np.flatnonzero(bad)]
    left = {rule.name: int((~rule.holds(data if rule.kind == "unique" else again)).sum()) for rule in rules}
    broken = {name: count for name, count in left.items() if count}
    if broken:  # a generator that does not keep its conditions exactly: a bug, never a silent wrong release
        raise RuntimeError(f"{model.name}: rows still break rules after resampling: {broken}")
    logger.info("rules: %d of %d rows drawn again; 0 violations in the released rows", redrawn, n)
    return data, {
        "method": METHOD + (MARGINALS if keep_marginals else EXACT),
        "rows": n,
        "rows_drawn_again": redrawn,
        "rows_replaced_whole": redrawn - conditioned,
        "rows_resampled_conditionally": conditioned,
        "violations_in_first_draw": drawn,
        "violations_released": left,
    }


def _generated_fresh(model: Any) -> set[str]:
    """Columns the model does not learn but makes anew (identifiers, personal data, free text): not conditioned."""
    schema = getattr(model, "schema_", None)
    return {c.name for c in schema.columns if c.kind in FRESH_KINDS} if schema is not None else set()


def _check_modelled(model: Any, rules: RuleSet) -> None:
    """A rule may read only modelled columns; ``unique`` on an identifier holds already (ids are made unique)."""
    kinds = {c.name: c.kind for c in model.schema_.columns}
    for rule in rules:
        fresh = [c for c in rule.columns if kinds.get(c) in FRESH_KINDS]
        if fresh and not (rule.kind == "unique" and kinds[fresh[0]] == "id"):
            raise InputError(
                f"rule {rule.name!r} reads {', '.join(f'{c!r} ({kinds[c]})' for c in fresh)}: such columns are "
                "generated fresh, not learned, so no rule can steer them; rules may read the other columns"
            )


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


def _replace_whole_rows(
    model: Any,
    rules: RuleSet,
    data: pd.DataFrame,
    valid: np.ndarray,
    rows: np.ndarray,
    conditions: Any,
    streams: np.random.Generator,
    keep_marginals: bool,
) -> np.ndarray:
    """Put whole rule-satisfying rows of one more draw (under each row's conditions) in the places of ``rows``;
    return the rows still to draw (when that draw gave too few)."""
    per_row, keys = _condition_keys(conditions, len(data))
    used = {c: set(data.loc[valid, c].dropna().tolist()) for c in rules.unique_columns}
    left = []
    for key in np.unique(keys[rows]):
        targets = rows[keys[rows] == key]
        group = np.flatnonzero(keys == key)
        group_conditions = _group_conditions(conditions, per_row, int(targets[0]))
        share = float(valid[group].mean())
        pool = _extra_donors(model, rules, WHOLE_ROW_POOL * targets.size, share, group_conditions, used, streams)
        take = min(len(pool), targets.size)
        if take == 0:
            left.append(targets)
            continue
        weights = None
        if keep_marginals and take == targets.size:
            weights = marginal_weights(pool, data.iloc[group], valid[group], take, rules.columns)
        chosen = pool.iloc[streams.choice(len(pool), size=take, replace=False, p=weights)]
        placed = targets[:take] if take == targets.size else streams.choice(targets, size=take, replace=False)
        chosen.index = placed
        data.iloc[placed] = chosen[data.columns]
        for column in used:
            used[column].update(chosen[column].dropna().tolist())
        left.append(np.setdiff1d(targets, placed))
    remaining = np.sort(np.concatenate(left)) if left else np.array([], dtype=np.int64)
    logger.info(
        "rules: %d rows replaced whole, %d left to conditional resampling", rows.size - remaining.size, remaining.size
    )
    return remaining


def _resample_conditions(
    model: Any,
    rules: RuleSet,
    data: pd.DataFrame,
    valid: np.ndarray,
    rows: np.ndarray,
    conditions: Any,
    streams: np.random.Generator,
    keep_marginals: bool,
) -> pd.DataFrame:
    """For each row to draw again: its own conditions plus the rule columns of a donor drawn under them."""
    per_row, keys = _condition_keys(conditions, len(data))
    columns = [c for c in rules.columns if c not in _generated_fresh(model)]
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
        wanted_pool = (2 if keep_marginals else 1) * targets.size  # room to choose donors that keep marginals
        if len(pool) < wanted_pool:
            more = _extra_donors(model, rules, wanted_pool - len(pool), share, group_conditions, used, streams)
            pool = pd.concat([pool, more], ignore_index=True)
        if pool.empty:
            raise RulesNotSatisfiable(_unsatisfiable(model, rules, group_conditions))
        cap = max(POOL_PER_ROW * targets.size, MIN_POOL)
        if len(pool) > cap:  # the pool's rows are independent draws: a random part of it is as good a pool
            pool = pool.iloc[np.sort(streams.choice(len(pool), size=cap, replace=False))]
        if len(pool) >= targets.size:
            weights = None
            if keep_marginals:
                group = np.flatnonzero(keys == key)
                weights = marginal_weights(pool, data.iloc[group], np.isin(group, own), targets.size, columns)
            chosen = streams.choice(len(pool), size=targets.size, replace=False, p=weights)
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


def marginal_weights(
    pool: pd.DataFrame, everything: pd.DataFrame, kept: np.ndarray, need: int, columns: list[str]
) -> np.ndarray:
    """Weights on the donor pool (iterative proportional fitting) so that the kept rows (``kept``: a mask over
    ``everything``) plus ``need`` donors have, in each rule column, the marginal of ``everything`` (the first draw,
    violating rows included): the donors make up for what removing the violating rows took from each category (or
    decile of a number)."""
    weights = np.ones(len(pool))
    margins = []
    for column in columns:
        labels_all, labels_pool, size = _bins(everything[column], pool[column])
        target = np.bincount(labels_all, minlength=size).astype(np.float64)
        have = np.bincount(labels_all[kept], minlength=size).astype(np.float64)
        want = np.clip(target - have, 0, None)
        if want.sum() <= 0:
            continue
        margins.append((labels_pool, want / want.sum() * need))
    for _ in range(IPF_ROUNDS):
        for labels, want in margins:
            current = np.bincount(labels, weights=weights, minlength=want.size)
            factor = np.divide(want, current, out=np.zeros_like(want), where=current > 0)
            weights *= factor[labels]
    if not np.isfinite(weights).all() or weights.sum() <= 0:
        logger.info("rules: the donor weights did not settle; donors drawn uniformly")
        weights = np.ones(len(pool))
    weights = weights + 1e-9 * weights.mean()  # every donor stays possible (sampling without replacement)
    return weights / weights.sum()


def _bins(everything: pd.Series, pool: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """One label per value: the category (missing, or unseen in ``everything``, as one more label), or the decile
    of ``everything`` for numbers and dates (missing as its own label)."""
    numeric = pd.api.types.is_numeric_dtype(everything.dtype) and not pd.api.types.is_bool_dtype(everything.dtype)
    if numeric or pd.api.types.is_datetime64_any_dtype(everything.dtype):

        def numbers(series: pd.Series) -> np.ndarray:
            if pd.api.types.is_datetime64_any_dtype(series.dtype):
                values = series.astype("datetime64[us]").astype("int64").to_numpy(dtype=np.float64)
                return np.where(series.isna().to_numpy(), np.nan, values)
            return series.to_numpy(dtype=np.float64, na_value=np.nan)

        reference = numbers(everything)
        present = reference[np.isfinite(reference)]
        edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)))[1:-1] if present.size else np.array([])

        def label(x: np.ndarray) -> np.ndarray:
            return np.where(np.isfinite(x), np.searchsorted(edges, x, side="right"), edges.size + 1)

        return label(reference), label(numbers(pool)), edges.size + 2
    levels = pd.Index(everything.dropna().unique())
    other = len(levels)
    coded_all = levels.get_indexer(everything)
    coded_pool = levels.get_indexer(pool)
    return np.where(coded_all < 0, other, coded_all), np.where(coded_pool < 0, other, coded_pool), other + 1
