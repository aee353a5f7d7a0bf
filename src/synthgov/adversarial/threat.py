"""The threat model of a constrained attack: which columns may change and how far, and what every changed row
must keep (as the constrained tabular attacks CAA and MOEVA define it, Simonetto et al. 2022, 2024).

- numeric columns: within ``budget`` x the column's training range of the original value (L-infinity on the
  min-max scale), inside the training range, whole numbers where the column holds whole numbers;
- categorical columns: at most ``max_categorical`` of them changed per row, each to a category of the training
  table;
- immutable columns (``--immutable``), the label, identifiers, personal data, free text and datetimes never change,
  nor does a missing value;
- every row satisfies every value rule (``--rules``; ``unique`` rules aside: they are about whole tables)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

FIXED_KINDS = ("id", "pii", "text", "datetime")


@dataclass
class NumericBound:
    low: float
    high: float
    whole: bool

    @property
    def span(self) -> float:
        return self.high - self.low


@dataclass
class ThreatModel:
    numeric: dict[str, NumericBound]
    categorical: dict[str, list[Any]]
    immutable: list[str]
    budget: float
    max_categorical: int
    rules: Any = None  # a RuleSet, or None
    notes: list[str] = field(default_factory=list)

    @property
    def mutable(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def describe(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "budget_meaning": "each numeric column moves at most budget x its training range (L-infinity on the "
            "min-max scale), inside the training range, whole numbers kept whole",
            "max_categorical_changes": self.max_categorical,
            "numeric": {c: {"low": b.low, "high": b.high, "whole": b.whole} for c, b in self.numeric.items()},
            "categorical": {c: len(v) for c, v in self.categorical.items()},
            "immutable": self.immutable,
            "rules": [] if self.rules is None else [rule.name for rule in self.rules if rule.kind != "unique"],
        }

    def feasible(self, rows: pd.DataFrame, originals: pd.DataFrame) -> np.ndarray:
        """Which rows keep the threat model against their originals (row by row, same index order)."""
        ok = np.ones(len(rows), dtype=bool)
        for column in self.immutable:
            a, b = rows[column].reset_index(drop=True), originals[column].reset_index(drop=True)
            ok &= ((a.astype(object) == b.astype(object)) | (a.isna() & b.isna())).to_numpy()
        changed = np.zeros(len(rows), dtype=int)
        for column, values in self.categorical.items():
            a, b = rows[column].reset_index(drop=True), originals[column].reset_index(drop=True)
            same = ((a.astype(object) == b.astype(object)) | (a.isna() & b.isna())).to_numpy()
            allowed = a.astype(object).isin(values).to_numpy() | same
            ok &= allowed
            changed += ~same
        ok &= changed <= self.max_categorical
        for column, bound in self.numeric.items():
            a = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(originals[column], errors="coerce").to_numpy(dtype=float)
            both_missing = np.isnan(a) & np.isnan(b)
            tolerance = self.budget * bound.span + 1e-9 + (0.5 if bound.whole else 0.0)
            inside = (a >= bound.low - 1e-9) & (a <= bound.high + 1e-9) & (np.abs(a - b) <= tolerance)
            if bound.whole:
                inside &= np.isclose(a, np.round(a))
            ok &= np.where(both_missing, True, inside & ~np.isnan(a) & ~np.isnan(b))
        if self.rules is not None:
            for rule in self.rules:
                if rule.kind != "unique":
                    ok &= rule.holds(rows.reset_index(drop=True))
        return ok


def threat_model(
    table: pd.DataFrame,
    kinds: dict[str, str],
    target: str,
    immutable: list[str],
    budget: float,
    max_categorical: int,
    rules: Any,
) -> ThreatModel:
    for column in immutable:
        if column not in table.columns:
            raise InputError(f"--immutable column '{column}' is not in the table")
    if not 0 < budget <= 1:
        raise InputError(f"--budget must be in (0, 1] (a share of each numeric column's range), got {budget}")
    if max_categorical < 0:
        raise InputError(f"--max-categorical must be >= 0, got {max_categorical}")
    fixed = [target, *immutable]
    numeric: dict[str, NumericBound] = {}
    categorical: dict[str, list[Any]] = {}
    for column in table.columns:
        kind = kinds.get(column, "")
        if column in fixed or kind in FIXED_KINDS:
            continue
        values = table[column].dropna()
        if kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
            if numbers.size and numbers.max() > numbers.min():
                whole = bool(np.all(np.isclose(numbers, np.round(numbers))))
                numeric[column] = NumericBound(float(numbers.min()), float(numbers.max()), whole)
        elif values.nunique() > 1:
            categorical[column] = list(values.unique())
    frozen = [c for c in table.columns if c != target and c not in numeric and c not in categorical]
    if not numeric and not (categorical and max_categorical):
        raise InputError("no column may change: every column is immutable, the label, or fixed by its kind")
    return ThreatModel(numeric, categorical, frozen, budget, max_categorical, rules)
