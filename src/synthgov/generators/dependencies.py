"""Functional dependencies between discrete columns (``education`` determines ``education-num``).

A column B that is an exact function of another column A in the training data (every value of A goes with
one value of B) is not modelled: it is derived from A by lookup after sampling, so the dependency holds in
every synthetic row. Statistical models (a copula, a network with few parents) can only approximate such a
rule, and approximating it costs fidelity and creates impossible rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov.generators.marginals import CategoricalMarginal, NumericMarginal
from synthgov.table.plain import positions

MAX_SOURCE_VALUES = 500  # A may have at most this many distinct values ...
MIN_ROWS_PER_VALUE = 10  # ... and at least this many rows per value on average (else any key "determines")


@dataclass
class Derived:
    """Column ``target`` = ``mapping[source value]``; values as JSON-able Python objects (None = missing)."""

    target: str
    source: str
    keys: list[Any]
    values: list[Any]

    def apply(self, source_values: pd.Series) -> np.ndarray:
        """The target value of each source value (None where the source value was never seen)."""
        values = source_values.astype(object).where(source_values.notna(), None).to_numpy()
        targets = np.empty(len(self.values) + 1, dtype=object)
        targets[:-1] = self.values  # the last slot answers unknown sources with None
        if any(isinstance(k, bool) for k in self.keys) or any(isinstance(v, bool) for v in values):
            table = {_k(k): i for i, k in enumerate(self.keys)}  # keep True and 1 apart
            codes = np.fromiter((table.get(_k(_plain(v)), -1) for v in values), dtype=np.int64, count=len(values))
        else:
            codes = positions(self.keys, values)
        return targets[codes]

    def sources_for(self, value: Any) -> list[Any]:
        return [k for k, v in zip(self.keys, self.values, strict=True) if _k(v) == _k(_plain(value))]


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _k(value: Any) -> Any:
    return (type(value).__name__, value) if isinstance(value, bool) else value


def _discrete_codes(frame: pd.DataFrame, name: str, marginal: Any, numbers: Any) -> np.ndarray | None:
    if isinstance(marginal, CategoricalMarginal):
        if marginal.pool is not None:
            return None
        return marginal.encode(frame[name])
    if isinstance(marginal, NumericMarginal) and marginal.discrete and marginal.points.size <= MAX_SOURCE_VALUES:
        values = numbers(name)
        codes = np.searchsorted(marginal.points, np.nan_to_num(values, nan=marginal.points[0]))
        return np.where(np.isfinite(values), codes, marginal.points.size).astype(np.int64)
    return None


def find_derived(frame: pd.DataFrame, transformer: Any) -> dict[str, Derived]:
    """Columns that are exact functions of an earlier-kept column, each with its lookup table."""
    schema = transformer.schema
    codes: dict[str, np.ndarray] = {}
    for name, marginal in transformer.marginals.items():
        if schema[name].kind == "datetime":
            continue
        c = _discrete_codes(frame, name, marginal, lambda n: transformer.numbers(frame[n], schema[n]))
        if c is not None:
            codes[name] = c
    n = len(frame)
    distinct = {name: int(np.unique(c).size) for name, c in codes.items()}
    derived: dict[str, Derived] = {}
    kept: list[str] = []
    # Numbers first: of two columns that determine each other, keep the one with a natural order.
    ordered = sorted(codes, key=lambda c: not isinstance(transformer.marginals[c], NumericMarginal))
    for name in ordered:
        target_codes = codes[name]
        for source in kept:
            k = distinct[source]
            if k < distinct[name] or k > MAX_SOURCE_VALUES or k * MIN_ROWS_PER_VALUE > n or distinct[name] < 2:
                continue
            size = int(target_codes.max()) + 1
            pairs = np.unique(codes[source] * size + target_codes)
            if pairs.size == k:  # every source value has exactly one target value
                derived[name] = _lookup(frame, source, name)
                break
        else:
            kept.append(name)
    return derived


def _lookup(frame: pd.DataFrame, source: str, target: str) -> Derived:
    pairs = frame[[source, target]].astype(object).drop_duplicates()
    keys = [_plain(v) for v in pairs[source]]
    values = [_plain(v) for v in pairs[target]]
    return Derived(target=target, source=source, keys=keys, values=values)
