"""Edge cases and tails: rare categories, extreme percentiles, support coverage, and the shrinkage indicators
(tail mass, spread, range, lost categories) of the model-collapse metric card (docs/collapse.md): for one release
they say whether its tails and spread shrank against the real table; across generations, whether they collapse."""

from __future__ import annotations

from typing import Any

import numpy as np

from synthgov.evaluation.prepare import Tables, as_numbers

RARE = 0.01  # a category below 1% of the real rows is rare
EXPECTED_FLOOR = 5  # ... and is only expected in the synthetic table when n_S * p >= 5

# (WARN, FAIL) thresholds of the metric card.
TAIL_RATIO = (0.75, 0.50)
STD_RATIO = ((0.95, 1.05), (0.90, 1.10))
RANGE_COVERAGE = (0.95, 0.90)


def edge_cases(tables: Tables) -> dict[str, Any]:
    real, syn = tables.real, tables.synthetic
    n_s = len(syn)
    rare_total = rare_present = 0
    lost: dict[str, list[str]] = {}
    entropy: dict[str, float] = {}
    for name in tables.columns:
        if tables.is_continuous(name):
            continue
        freq = real[name].value_counts(normalize=True)
        present = set(syn[name].dropna())
        rare = freq[(freq < RARE) & (freq * n_s >= EXPECTED_FLOOR)]
        rare_total += len(rare)
        rare_present += sum(v in present for v in rare.index)
        missing = [str(v) for v, p in freq.items() if p * n_s >= 10 and v not in present]
        if missing:
            lost[name] = missing
        entropy[name] = _entropy_ratio(freq.to_numpy(), syn[name].value_counts(normalize=True).to_numpy())
    tails, stds, ranges, percentiles, supports = {}, {}, {}, [], []
    for name in tables.columns:
        if not tables.is_continuous(name):
            continue
        r = as_numbers(real[name]).dropna().to_numpy()
        s = as_numbers(syn[name]).dropna().to_numpy()
        if r.size < 2 or s.size == 0:
            continue
        q01, q99 = np.quantile(r, [0.01, 0.99])
        span = q99 - q01
        sq01, sq99 = np.quantile(s, [0.01, 0.99])
        percentiles.append(1.0 if span == 0 else max(0.0, 1 - (abs(sq01 - q01) + abs(sq99 - q99)) / (2 * span)))
        real_tail = np.mean((r < q01) | (r > q99))
        if real_tail > 0:
            tails[name] = float(np.mean((s < q01) | (s > q99)) / real_tail)
        if np.std(r) > 0:
            stds[name] = float(np.std(s) / np.std(r))
        lo, hi = _expected_range(r, s.size)
        if hi > lo:
            ranges[name] = float(max(0.0, min(hi, s.max()) - max(lo, s.min())) / (hi - lo))
        edges = np.unique(np.quantile(r, np.linspace(0, 1, 21)))
        if edges.size > 1:
            occupied = np.unique(np.clip(np.searchsorted(edges, s, side="right") - 1, 0, edges.size - 2))
            supports.append(occupied.size / (edges.size - 1))
    coverage = tables.columns and [
        len(set(real[n].dropna()) & set(syn[n].dropna())) / max(real[n].nunique(), 1)
        for n in tables.columns
        if not tables.is_continuous(n)
    ]
    result = {
        "rare_category_coverage": rare_present / rare_total if rare_total else 1.0,
        "rare_categories": rare_total,
        "percentile_agreement": float(np.mean(percentiles)) if percentiles else 1.0,
        "support_coverage": float(np.mean(supports + list(coverage or []))) if supports or coverage else 1.0,
        "tail_mass_ratio": tails,
        "std_ratio": stds,
        "range_coverage": ranges,
        "entropy_ratio": entropy,
        "categories_lost": lost,
    }
    result["collapse_flags"] = collapse_flags(result)
    return result


RANGE_DRAWS = 20
RANGE_REACH = 0.9  # the reference range: what 90% of equal-size real samples reach at each end


def _expected_range(real: np.ndarray, size: int) -> tuple[float, float]:
    """The range that equal-size real samples reach: the range of 1,000 synthetic rows is compared with what
    1,000 real rows reach, not with the extremes of 32,561, which no 1,000 rows reach. Each end is the one that
    90% of 20 seeded draws reach, so a real sample of that size is rarely flagged (a heavy tail, such as
    fnlwgt's, makes one sample's maximum vary by half the range)."""
    if size >= real.size:
        return float(real.min()), float(real.max())
    rng = np.random.default_rng(0)
    draws = [rng.choice(real, size, replace=False) for _ in range(RANGE_DRAWS)]
    lows, highs = [d.min() for d in draws], [d.max() for d in draws]
    return float(np.quantile(lows, RANGE_REACH)), float(np.quantile(highs, 1 - RANGE_REACH))


def _entropy_ratio(p_real: np.ndarray, p_syn: np.ndarray) -> float:
    h_r = -np.sum(p_real * np.log(p_real))
    h_s = -np.sum(p_syn * np.log(p_syn)) if p_syn.size else 0.0
    return float(h_s / h_r) if h_r > 0 else 1.0


def collapse_flags(result: dict[str, Any]) -> list[dict[str, Any]]:
    """WARN/FAIL flags for a table whose tails, spread, range or category set shrank."""
    flags = []

    def add(column: str, indicator: str, value: float, level: str) -> None:
        flags.append({"column": column, "indicator": indicator, "value": round(value, 4), "level": level})

    # indicator -> (inside the WARN band?, inside the FAIL band?) for a value
    checks = {
        "tail_mass_ratio": (lambda v: v >= TAIL_RATIO[0], lambda v: v >= TAIL_RATIO[1]),
        "std_ratio": (
            lambda v: STD_RATIO[0][0] <= v <= STD_RATIO[0][1],
            lambda v: STD_RATIO[1][0] <= v <= STD_RATIO[1][1],
        ),
        "range_coverage": (lambda v: v >= RANGE_COVERAGE[0], lambda v: v >= RANGE_COVERAGE[1]),
    }
    for indicator, (ok, tolerable) in checks.items():
        for col, v in result[indicator].items():
            if not tolerable(v):
                add(col, indicator, v, "FAIL")
            elif not ok(v):
                add(col, indicator, v, "WARN")
    for col, values in result["categories_lost"].items():
        add(col, "categories_lost", float(len(values)), "FAIL")
    return flags
