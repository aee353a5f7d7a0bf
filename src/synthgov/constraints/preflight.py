"""Rules measured on the real table before anything is fitted (issue 21).

* a rule over an unknown column, or that no row of the data could satisfy, is an error before fitting;
* rules that cannot hold together are reported as contradicting each other, by name;
* a rule that some real rows break is reported with its real violation rate: the release will still satisfy it
  (a value reinforced, not a value learned), and the manifest states the rate so a reader knows.

Whether rules can hold together is decided on candidate rows: the real rows (restricted to the rules' columns)
and, for rules over categorical columns only, every combination of the categories the data has (up to
:data:`MAX_COMBINATIONS`). A data-driven generator makes only such categories, so a set of categorical rules that no
combination satisfies can never be satisfied by it; for numbers the real rows are the evidence.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov.constraints.value_rules import Rule, RuleSet
from synthgov.errors import InputError

logger = logging.getLogger(__name__)

MAX_COMBINATIONS = 200_000


@dataclass
class RuleCheck:
    """What the real table says about each rule: ``real_violation_rate`` by rule name."""

    rows: int
    real_violation_rate: dict[str, float]

    def broken_in_real_data(self) -> dict[str, float]:
        return {name: rate for name, rate in self.real_violation_rate.items() if rate > 0}


def check_rules(rules: RuleSet, table: pd.DataFrame) -> RuleCheck:
    """Measure ``rules`` on ``table`` and refuse unknown columns, rules nothing satisfies, and contradictions."""
    rules.check_columns(list(table.columns))
    n = len(table)
    rates = {rule.name: float((~rule.holds(table)).mean()) if n else 0.0 for rule in rules}
    candidates = _candidates(rules, table)
    held = {rule.name: rule.holds(candidates) for rule in rules.row_rules}
    for rule in rules.row_rules:
        if not held[rule.name].any():
            raise InputError(
                f"rule {rule.name!r} ({rule.text}) holds in no row of the data and for no combination of its "
                "categories: no generator that learns from this table can satisfy it"
            )
    everything = np.logical_and.reduce([held[r.name] for r in rules.row_rules]) if held else np.ones(1, dtype=bool)
    if not everything.any():
        raise InputError(_contradiction(rules.row_rules, held))
    for name, rate in rates.items():
        if rate > 0:
            logger.warning(
                "rule %r is broken by %.3f%% of the real rows; every released row will satisfy it", name, 100 * rate
            )
    return RuleCheck(rows=n, real_violation_rate=rates)


def check_declared(rules: RuleSet, schema: Any) -> None:
    """For a DP release (which may not read the real rows outside its mechanisms): unknown columns, and the rules
    over declared categorical columns only, checked on every combination of the declared categories."""
    rules.check_columns(list(schema.names))
    declared = {c.name: list(c.categories) for c in schema.columns if getattr(c, "categories", None)}
    checkable = [r for r in rules.row_rules if r.columns and all(c in declared for c in r.columns)]
    if not checkable:
        return
    columns = list(dict.fromkeys(c for r in checkable for c in r.columns))
    size = int(np.prod([len(declared[c]) for c in columns], dtype=np.float64))
    if size > MAX_COMBINATIONS:
        logger.info("rules: %d declared category combinations; not searched for contradictions", size)
        return
    grid = pd.DataFrame(list(itertools.product(*(declared[c] for c in columns))), columns=columns)
    held = {rule.name: rule.holds(grid) for rule in checkable}
    for rule in checkable:
        if not held[rule.name].any():
            raise InputError(f"rule {rule.name!r} ({rule.text}) holds for no combination of the declared categories")
    if not np.logical_and.reduce([held[r.name] for r in checkable]).any():
        raise InputError(_contradiction(checkable, held))


def _candidates(rules: RuleSet, table: pd.DataFrame) -> pd.DataFrame:
    """The real rows over the rules' columns, plus every combination of categories for categorical-only groups of
    rules (when there are at most MAX_COMBINATIONS)."""
    columns = rules.columns
    real = table[columns].drop_duplicates().reset_index(drop=True)
    categorical = [c for c in columns if not _is_numeric_like(table[c])]
    if not categorical:
        return real
    levels = [table[c].dropna().unique().tolist() for c in categorical]
    size = int(np.prod([len(v) for v in levels], dtype=np.float64))
    if size > MAX_COMBINATIONS:
        logger.info("rules: %d category combinations; contradictions are looked for in the real rows only", size)
        return real
    grid = pd.DataFrame(list(itertools.product(*levels)), columns=categorical)
    numeric = [c for c in columns if c not in categorical]
    if numeric:  # each combination with the numbers of one real row (a row that satisfies the numeric rules)
        fill = real[numeric].iloc[np.arange(len(grid)) % max(len(real), 1)].reset_index(drop=True)
        grid = pd.concat([grid, fill], axis=1)
    for column in columns:
        grid[column] = grid[column].astype(table[column].dtype) if column in categorical else grid[column]
    return pd.concat([real, grid[columns]], ignore_index=True)


def _is_numeric_like(series: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    ) or pd.api.types.is_datetime64_any_dtype(series.dtype)


def _contradiction(rules: list[Rule], held: dict[str, np.ndarray]) -> str:
    """Name the smallest set of rules found that cannot hold together (a pair when there is one)."""
    for a, b in itertools.combinations(rules, 2):
        if not (held[a.name] & held[b.name]).any():
            return (
                f"rules {a.name!r} and {b.name!r} contradict each other: no row of the data (nor any combination of "
                "its categories) satisfies both"
            )
    names = ", ".join(repr(r.name) for r in rules)
    return (
        f"the rules {names} contradict each other: no row of the data (nor any combination of its categories) "
        "satisfies all of them"
    )
