"""Per-column marginal distributions on a common uniform scale.

Every modelled column maps to ``u`` in [0, 1] by a randomised probability integral transform (PIT): missing
values occupy ``[0, p_missing)``, the rest of the scale follows the column's empirical CDF (numbers) or the
cumulative frequencies of its categories in a given order. Generators model the joint law of these ``u``
(the copula through normal scores, the Bayesian network through bins of ``u``) and map back with
:meth:`NumericMarginal.from_uniform` / :meth:`CategoricalMarginal.from_uniform`, which reproduce each marginal
exactly in expectation. Nothing here stores training rows: numbers keep a quantile table of at most
``MAX_POINTS`` points, categories their frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov.table.plain import positions
from synthgov.table.schema import ColumnSchema

MAX_POINTS = 1024  # support points kept exactly; above this a quantile table of this size


def _missing_split(u: np.ndarray, p_missing: float) -> tuple[np.ndarray, np.ndarray]:
    missing = u < p_missing
    inner = (u - p_missing) / max(1.0 - p_missing, 1e-300)
    return missing, np.clip(inner, 0.0, 1.0)


@dataclass
class NumericMarginal:
    """Empirical distribution of a number (or a datetime in resolution units), with missingness."""

    p_missing: float
    levels: np.ndarray  # non-decreasing CDF levels in [0, 1]
    points: np.ndarray  # non-decreasing values; (levels, points) is the inverse CDF
    discrete: bool  # True: a finite support, ``levels`` are the right-continuous CDF at ``points``
    integer: bool = False
    step: float | None = None
    decimals: int | None = None
    lower: float | None = None
    upper: float | None = None

    @classmethod
    def fit(cls, values: np.ndarray, col: ColumnSchema | None = None) -> NumericMarginal:
        values = np.asarray(values, dtype=np.float64)
        present = np.isfinite(values)
        p_missing = float(1.0 - present.mean()) if values.size else 0.0
        v = np.sort(values[present])
        if v.size == 0:
            levels, points, discrete = np.array([1.0]), np.array([0.0]), True
        else:
            uniq, counts = np.unique(v, return_counts=True)
            if uniq.size <= MAX_POINTS:
                levels, points, discrete = np.cumsum(counts) / v.size, uniq, True
            else:
                (levels, points), discrete = _quantile_table(v, uniq, counts), False
        integer = bool(col.integer) if col is not None and col.integer is not None else False
        lower = col.min if col is not None else None
        upper = col.max if col is not None else None
        return cls(
            p_missing=p_missing,
            levels=levels,
            points=points,
            discrete=discrete,
            integer=integer,
            step=col.step if col is not None else None,
            decimals=col.decimals if col is not None else None,
            lower=lower,
            upper=upper,
        )

    # -- the uniform scale -----------------------------------------------------------------------
    def cdf_interval(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The interval of ``u`` (on the full scale, missing first) that value ``x`` occupies."""
        x = np.asarray(x, dtype=np.float64)
        missing = ~np.isfinite(x)
        xs = np.where(missing, self.points[0], x)
        if self.discrete:
            idx = np.clip(np.searchsorted(self.points, xs, side="left"), 0, self.points.size - 1)
            hi = self.levels[idx]
            lo = np.where(idx > 0, self.levels[np.maximum(idx - 1, 0)], 0.0)
        else:
            i = np.searchsorted(self.points, xs, side="left")
            j = np.searchsorted(self.points, xs, side="right")
            lo = np.interp(xs, self.points, self.levels)
            hi = lo.copy()
            atom = (j - i) >= 2
            lo[atom] = self.levels[i[atom]]
            hi[atom] = self.levels[j[atom] - 1]
        scale = 1.0 - self.p_missing
        lo, hi = self.p_missing + scale * lo, self.p_missing + scale * hi
        lo[missing], hi[missing] = 0.0, self.p_missing
        return lo, hi

    def to_uniform(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.cdf_interval(x)
        return lo + rng.random(lo.size) * (hi - lo)

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        missing, inner = _missing_split(np.asarray(u, dtype=np.float64), self.p_missing)
        if self.discrete:
            idx = np.minimum(np.searchsorted(self.levels, inner, side="left"), self.points.size - 1)
            out = self.points[idx].astype(np.float64)
        else:
            out = np.interp(inner, self.levels, self.points)
        out = self.finish(out)
        out[missing] = np.nan
        return out

    def finish(self, x: np.ndarray) -> np.ndarray:
        """Round to the column's step/decimals and keep it within its bounds."""
        if self.step:
            origin = self.points[0]
            x = origin + np.round((x - origin) / self.step) * self.step
        elif self.integer:
            x = np.round(x)
        elif self.decimals is not None:
            x = np.round(x, self.decimals)
        lower = self.points[0] if self.lower is None else self.lower
        upper = self.points[-1] if self.upper is None else self.upper
        return np.clip(x, lower, upper)

    @property
    def support_min(self) -> float:
        return float(self.points[0])

    @property
    def support_max(self) -> float:
        return float(self.points[-1])

    def to_state(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NumericMarginal:
        return cls(**state)


def _quantile_table(v: np.ndarray, uniq: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-CDF points for a sorted sample with many distinct values, keeping atoms (point masses) exact."""
    n = v.size
    levels = np.linspace(0.0, 1.0, MAX_POINTS)
    points = np.quantile(v, levels)
    heavy = counts >= n / MAX_POINTS * 2
    if heavy.any():
        right = np.cumsum(counts) / n
        left = right - counts / n
        atoms = uniq[heavy]
        levels = np.concatenate([levels, left[heavy], right[heavy]])
        points = np.concatenate([points, atoms, atoms])
        order = np.lexsort((points, levels))
        levels, points = levels[order], points[order]
        points = np.maximum.accumulate(points)
    return levels, points


@dataclass
class CategoricalMarginal:
    """Frequencies of a column's categories; ``None`` stands for a missing value.

    High-cardinality columns keep their ``max_categories`` most frequent values as categories; the rest share one
    pooled category whose members (``pool``) are drawn by their own frequencies when it is decoded, so no value
    is invented and memory grows with the number of distinct values only.
    """

    categories: list[Any]
    probs: np.ndarray
    pool: list[Any] | None = None
    pool_probs: np.ndarray | None = None

    @classmethod
    def fit(cls, series: pd.Series, max_categories: int | None = None) -> CategoricalMarginal:
        counts = _plain_values(series).value_counts(dropna=False, sort=False)
        keys = [_json_safe(k) for k in counts.index]
        freq = counts.to_numpy(dtype=np.float64)
        order = sorted(range(len(keys)), key=lambda i: (-freq[i], str(keys[i])))
        keys, freq = [keys[i] for i in order], freq[order]
        pool = pool_probs = None
        if max_categories and len(keys) > max_categories:
            pool, pool_freq = keys[max_categories - 1 :], freq[max_categories - 1 :]
            keys = [*keys[: max_categories - 1], _POOLED]
            freq = np.append(freq[: max_categories - 1], pool_freq.sum())
            pool_probs = pool_freq / pool_freq.sum()
        return cls(categories=keys, probs=freq / freq.sum(), pool=pool, pool_probs=pool_probs)

    @property
    def size(self) -> int:
        return len(self.categories)

    def lookup(self) -> dict[Any, int]:
        table = {_key(c): i for i, c in enumerate(self.categories)}
        if self.pool is not None:
            pooled = table[_key(_POOLED)]
            table.update({_key(c): pooled for c in self.pool})
        return table

    def encode(self, series: pd.Series) -> np.ndarray:
        """Category codes of ``series``; values never seen map to -1."""
        values = _plain_values(series)
        keys = [*self.categories, *(self.pool or [])]
        if not any(isinstance(v, bool) for v in keys) and not values.map(type).eq(bool).any():
            codes = positions(keys, values.to_numpy(dtype=object))
            if self.pool is not None:
                pooled = self.categories.index(_POOLED)
                codes = np.where(codes >= len(self.categories), pooled, codes)
            return codes.astype(np.int64)
        table = self.lookup()  # booleans next to 0/1: keep True and 1 apart
        return np.fromiter((table.get(_key(v), -1) for v in values), dtype=np.int64, count=len(series))

    def code_of(self, value: Any) -> int:
        return self.lookup().get(_key(_json_safe(value)), -1)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        values = np.empty(len(self.categories), dtype=object)
        values[:] = self.categories
        out = values[codes]
        if self.pool is not None:
            pooled = self.categories.index(_POOLED)
            mask = codes == pooled
            if mask.any():
                pool = np.empty(len(self.pool), dtype=object)
                pool[:] = self.pool
                out[mask] = pool[rng.choice(len(self.pool), size=int(mask.sum()), p=self.pool_probs)]
        return out

    def to_state(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CategoricalMarginal:
        return cls(**state)


_POOLED = "\x00synthgov:pooled"


def _plain_values(series: pd.Series) -> pd.Series:
    """Values as plain Python objects with every kind of missing value as ``None``."""
    values = series.astype(object)
    return values.where(series.notna(), None)


def _json_safe(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _key(value: Any) -> Any:
    # bool and int hash alike in Python (True == 1); keep them apart.
    return (type(value).__name__, value) if isinstance(value, bool) else value
