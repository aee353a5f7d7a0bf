"""Fidelity: column shapes and column pair trends exactly as SDMetrics' QualityReport defines them, plus missing
value rates and category coverage.

Definitions (SDMetrics 0.32, single-table QualityReport):

* **Column Shapes** = mean over numeric/datetime columns of KSComplement (1 - the two-sample Kolmogorov-Smirnov
  statistic, missing values dropped, values rounded to 14 decimals) and over categorical/boolean columns of
  TVComplement (1 - half the total variation distance between category frequencies; a synthetic-only value
  gets a real count of 1e-6).
* **Column Pair Trends** = mean over the column pairs whose *real* association is strong enough of: for two
  numbers, CorrelationSimilarity = 1 - |r_real - r_synth| / 2 (Pearson, counted when |r_real| > 0.5); otherwise
  ContingencySimilarity = 1 - half the total variation distance between the two joint distributions (missing
  values as a value; a number is binned into the 10 equal-width bins of ``np.histogram_bin_edges`` of its own
  table; counted when the real Cramér's V > 0.3).
* **overall** = mean of the two (SDMetrics' ``get_score()``).

One deliberate difference: above 50,000 rows SDMetrics computes contingency on a random subsample; we use every
row (deterministic). Below that the scores are equal to SDMetrics' within floating-point error (tested).
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats.contingency import association

from synthgov.evaluation.prepare import Tables, as_numbers

REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3
_MAX_DECIMALS = sys.float_info.dig - 1


def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    r = as_numbers(real).dropna().round(_MAX_DECIMALS).to_numpy()
    s = as_numbers(synthetic).dropna().round(_MAX_DECIMALS).to_numpy()
    if r.size == 0 or s.size == 0:
        return float("nan")
    return float(1 - stats.ks_2samp(r, s, method="asymp").statistic)


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    r, s = Counter(real.dropna()), Counter(synthetic.dropna())
    if not r or not s:
        return float("nan")
    counts_r: dict[Any, float] = dict(r)
    for value in s:
        if value not in counts_r:
            counts_r[value] = 1e-6
    total_r, total_s = sum(counts_r.values()), sum(s.values())
    tv = sum(abs(s.get(v, 0) / total_s - c / total_r) for v, c in counts_r.items())
    return float(1 - 0.5 * tv)


def column_shapes(tables: Tables) -> dict[str, dict[str, Any]]:
    out = {}
    for name in tables.columns:
        if tables.is_continuous(name):
            out[name] = {"metric": "KSComplement", "score": ks_complement(tables.real[name], tables.synthetic[name])}
        else:
            out[name] = {"metric": "TVComplement", "score": tv_complement(tables.real[name], tables.synthetic[name])}
    return out


def _digitize(values: pd.Series) -> np.ndarray:
    """SDMetrics' 10 equal-width bins over the present values; infinities fall in the outer bins, and a range too
    wide for finite bins (1e308 and -1e308) is binned on the values' ranks."""
    numbers = values.to_numpy(dtype=np.float64)
    finite = numbers[np.isfinite(numbers)]
    try:
        edges = np.histogram_bin_edges(finite) if finite.size else np.zeros(1)
    except ValueError:  # numpy cannot make 10 finite-sized bins of this range
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, 11)))
    return np.digitize(numbers, bins=edges)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r of the rows where both are present (scipy.stats.pearsonr's value; NaN when undefined)."""
    present = ~(np.isnan(x) | np.isnan(y))
    x, y = x[present], y[present]
    if x.size < 2:
        return np.nan
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt((dx @ dx) * (dy @ dy))
    if not denominator > 0:
        return np.nan
    return float(np.clip((dx @ dy) / denominator, -1.0, 1.0))


def _correlation_pair(
    real: tuple[np.ndarray, np.ndarray], synthetic: tuple[np.ndarray, np.ndarray], constant: bool
) -> tuple[float, float, float, bool]:
    if constant:
        return np.nan, np.nan, np.nan, False  # SDMetrics: ConstantInputError -> no score
    corr_r = _pearson(*real)
    if np.isnan(corr_r) or abs(corr_r) <= REAL_CORRELATION_THRESHOLD:
        return np.nan, corr_r, np.nan, False
    corr_s = _pearson(*synthetic)
    if np.isnan(corr_s):
        return np.nan, corr_r, corr_s, True
    return 1 - abs(corr_r - corr_s) / 2, corr_r, corr_s, True


def _codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    codes, uniques = pd.factorize(np.concatenate([a, b]), use_na_sentinel=False)
    return codes[: len(a)], codes[len(a) :], len(uniques)


def _contingency_pair(
    real: tuple[np.ndarray, np.ndarray], synthetic: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float, bool]:
    a_r, a_s, _ = _codes(real[0], synthetic[0])
    b_r, b_s, kb = _codes(real[1], synthetic[1])
    cells_r = a_r.astype(np.int64) * kb + b_r
    cells_s = a_s.astype(np.int64) * kb + b_s
    # Real Cramér's V on the observed (row, column) values, as SDMetrics' unstack does.
    rows, row_idx = np.unique(a_r, return_inverse=True)
    cols, col_idx = np.unique(b_r, return_inverse=True)
    table = np.zeros((rows.size, cols.size), dtype=np.int64)
    np.add.at(table, (row_idx, col_idx), 1)
    if table.sum() == 0 or min(table.shape) < 2:
        return np.nan, np.nan, False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = float(association(table, method="cramer"))
    if not v > REAL_ASSOCIATION_THRESHOLD:
        return np.nan, v, False
    keys, inverse = np.unique(np.concatenate([cells_r, cells_s]), return_inverse=True)
    p_r = np.bincount(inverse[: cells_r.size], minlength=keys.size) / cells_r.size
    p_s = np.bincount(inverse[cells_r.size :], minlength=keys.size) / cells_s.size
    return float(1 - np.abs(p_r - p_s).sum() / 2), v, True


def column_pair_trends(tables: Tables) -> list[dict[str, Any]]:
    names = tables.columns
    real_num = {n: as_numbers(tables.real[n]) for n in names if tables.is_continuous(n)}
    syn_num = {n: as_numbers(tables.synthetic[n]) for n in names if tables.is_continuous(n)}
    real_bins = {n: _digitize(v) for n, v in real_num.items()}
    syn_bins = {n: _digitize(v) for n, v in syn_num.items()}
    constant = {n: real_num[n].nunique() == 1 or syn_num[n].nunique() == 1 for n in real_num}
    real_arrays = {n: v.to_numpy(dtype=np.float64) for n, v in real_num.items()}
    syn_arrays = {n: v.to_numpy(dtype=np.float64) for n, v in syn_num.items()}

    seen: dict[tuple[int, str], np.ndarray] = {}  # each column's discrete values once, not once per pair

    def discrete(frame: pd.DataFrame, bins: dict[str, np.ndarray], name: str) -> np.ndarray:
        key = (id(frame), name)
        if key not in seen:
            values = frame[name]
            seen[key] = (
                bins[name].astype(object)
                if name in bins
                else values.astype(object).where(values.notna(), np.nan).to_numpy()
            )
        return seen[key]

    out = []
    for a, b in itertools.combinations(names, 2):
        entry: dict[str, Any] = {"column_1": a, "column_2": b}
        if a in real_num and b in real_num:
            score, corr_r, corr_s, counted = _correlation_pair(
                (real_arrays[a], real_arrays[b]), (syn_arrays[a], syn_arrays[b]), constant[a] or constant[b]
            )
            entry.update(
                metric="CorrelationSimilarity",
                score=score,
                real_correlation=corr_r,
                synthetic_correlation=corr_s,
                counted=counted,
            )
        else:
            score, v, counted = _contingency_pair(
                (discrete(tables.real, real_bins, a), discrete(tables.real, real_bins, b)),
                (discrete(tables.synthetic, syn_bins, a), discrete(tables.synthetic, syn_bins, b)),
            )
            entry.update(metric="ContingencySimilarity", score=score, real_association=v, counted=counted)
        out.append(entry)
    return out


def quality_scores(tables: Tables) -> dict[str, Any]:
    shapes = column_shapes(tables)
    pairs = column_pair_trends(tables)
    shape_scores = [v["score"] for v in shapes.values() if not np.isnan(v["score"])]
    counted = [p["score"] for p in pairs if p["counted"] and not np.isnan(p["score"])]
    shape_mean = float(np.mean(shape_scores)) if shape_scores else float("nan")
    trend_mean = float(np.mean(counted)) if counted else float("nan")
    overall = float(np.nanmean([shape_mean, trend_mean])) if shape_scores or counted else float("nan")
    return {
        "column_shapes": shape_mean,
        "column_pair_trends": trend_mean,
        "overall": overall,
        "columns": shapes,
        "pairs": _listed_pairs(pairs),
        "pairs_total": len(pairs),
        "pairs_counted": len(counted),
    }


MAX_LISTED_PAIRS = 20_000  # the report lists every pair up to ~200 columns; beyond, the counted pairs, worst first


def _listed_pairs(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every pair, or (for wide tables, whose pairs grow with the square of the columns) the counted pairs with
    the lowest scores: the scores above are always over every pair; only the listing is bounded."""
    if len(pairs) <= MAX_LISTED_PAIRS:
        return pairs
    counted = [p for p in pairs if p["counted"] and not np.isnan(p["score"])]
    return sorted(counted, key=lambda p: p["score"])[:MAX_LISTED_PAIRS]


def missing_and_coverage(tables: Tables) -> dict[str, Any]:
    gaps = {n: float(abs(tables.real[n].isna().mean() - tables.synthetic[n].isna().mean())) for n in tables.columns}
    coverage = {}
    for n in tables.columns:
        if tables.is_continuous(n):
            continue
        cats = set(tables.real[n].dropna())
        coverage[n] = len(cats & set(tables.synthetic[n].dropna())) / len(cats) if cats else 1.0
    return {
        "missing_rate_gap": max(gaps.values()) if gaps else 0.0,
        "missing_rate_gaps": gaps,
        "category_coverage": float(np.mean(list(coverage.values()))) if coverage else 1.0,
        "category_coverage_by_column": coverage,
    }
