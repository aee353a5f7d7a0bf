"""The drift monitor (``synthgov drift BASELINE CANDIDATE``): which values of a table drifted from a baseline, and by
how much (issue 21).

Two tables are compared (two releases, a release and its source, successive generations of the collapse
laboratory) on five kinds of value, each a list of findings:

* **rules**: each value rule's satisfaction rate (two-proportion z-test);
* **marginals**: each column's distribution: total variation distance for categories (chi-square test of
  homogeneity), Kolmogorov-Smirnov statistic for numbers and dates (KS test);
* **pairs**: each pair of columns: the evaluation's Column Pair Trends score of the candidate against the baseline
  (1 - |change in correlation| / 2 for numbers, Fisher z test; 1 - total variation of the joint table otherwise,
  chi-square test over its cells);
* **groups**: each group's share of the rows, for the ``sensitive`` columns (two-proportion z-test);
* **label rates**: the rate of the ``target``'s positive label within each group (two-proportion z-test).

A finding *drifts* when its change crosses the policy's threshold **and** its test rejects "no change" at
``alpha`` divided by the number of findings (Bonferroni): a change that sampling noise explains (two releases of
one generator with different seeds) is not drift, however it compares with the threshold, and a significant change
smaller than the threshold is reported but not flagged. Thresholds come from the policy file's ``drift:`` section
(:class:`Thresholds` lists the defaults).
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

MAX_PAIR_LEVELS = 50  # categories of a column beyond the most frequent are pooled in pair tables
NUMERIC_BINS = 10


@dataclass(frozen=True)
class Thresholds:
    """What counts as drift (the policy file's ``drift:`` section may set each)."""

    rule_drop: float = 0.01  # fall in a rule's satisfaction rate
    marginal_distance: float = 0.05  # total variation (categories) or KS statistic (numbers)
    pair_drop: float = 0.1  # fall of a pair's trend score below 1 (1 - |change in correlation| / 2, or 1 - TV)
    share_shift: float = 0.03  # change of a group's share of the rows
    label_rate_shift: float = 0.03  # change of the positive label's rate within a group
    alpha: float = 0.001  # family-wise significance level of the tests (Bonferroni over the findings)


@dataclass
class Finding:
    kind: str  # rule, marginal, pair, group, label_rate
    subject: str
    baseline: float | None  # the value in each table (None where the change is a distance between the two)
    candidate: float | None
    change: float  # signed for rates and shares; a distance for marginals; the score drop for pairs
    threshold: float
    p_value: float
    drifted: bool = False


@dataclass
class DriftReport:
    baseline_rows: int
    candidate_rows: int
    thresholds: Thresholds
    findings: list[Finding] = field(default_factory=list)

    @property
    def drifted(self) -> list[Finding]:
        return [f for f in self.findings if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_rows": self.baseline_rows,
            "candidate_rows": self.candidate_rows,
            "thresholds": asdict(self.thresholds),
            "method": __doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
            "drift": bool(self.drifted),
            "drifted": [asdict(f) for f in self.drifted],
            "findings": [asdict(f) for f in self.findings],
        }


def compare(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    rules: Any = None,
    sensitive: list[str] | tuple[str, ...] = (),
    target: str | None = None,
    thresholds: Thresholds | None = None,
) -> DriftReport:
    """Compare ``candidate`` with ``baseline`` (same columns) and flag what drifted."""
    limits = thresholds or Thresholds()
    missing = [c for c in baseline.columns if c not in candidate.columns]
    extra = [c for c in candidate.columns if c not in baseline.columns]
    if missing or extra:
        raise InputError(
            "the two tables must have the same columns"
            + (f"; missing from the candidate: {', '.join(missing)}" if missing else "")
            + (f"; not in the baseline: {', '.join(extra)}" if extra else "")
        )
    for column in [*sensitive, *([target] if target else [])]:
        if column not in baseline.columns:
            raise InputError(f"column '{column}' is not in the tables (columns: {', '.join(baseline.columns[:20])})")
    if len(baseline) < 2 or len(candidate) < 2:
        raise InputError("each table needs at least 2 rows to compare")
    report = DriftReport(len(baseline), len(candidate), limits)
    if rules is not None:
        rules.check_columns(list(baseline.columns))
        report.findings += _rules(baseline, candidate, rules, limits)
    report.findings += _marginals(baseline, candidate, limits)
    report.findings += _pairs(baseline, candidate, limits)
    for column in sensitive:
        report.findings += _groups(baseline, candidate, column, limits)
        if target is not None and target != column:
            report.findings += _label_rates(baseline, candidate, column, target, limits)
    level = limits.alpha / max(len(report.findings), 1)
    for finding in report.findings:
        finding.drifted = bool(finding.change >= finding.threshold - 1e-12 and finding.p_value < level)
    logger.info("drift: %d findings, %d drifted", len(report.findings), len(report.drifted))
    return report


# -- the tests ---------------------------------------------------------------------------------------------------
def _two_proportions(x1: int, n1: int, x2: int, n2: int) -> float:
    """p-value of the two-sided z-test of equal proportions (exact 1.0 when nothing differs)."""
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if p1 == p2 else 0.0
    return float(2 * stats.norm.sf(abs(p1 - p2) / se))


def _homogeneity(a: np.ndarray, b: np.ndarray) -> float:
    """Chi-square test that two count vectors come from one distribution (cells empty in both dropped)."""
    table = np.vstack([a, b]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False)[1])


def _is_numeric(series: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    ) or pd.api.types.is_datetime64_any_dtype(series.dtype)


def _numbers(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.astype("datetime64[us]").astype("int64").to_numpy(dtype=np.float64)
        return np.where(series.isna().to_numpy(), np.nan, values)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _labels(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "(missing)").astype(str)


# -- the findings ------------------------------------------------------------------------------------------------
def _rules(baseline: pd.DataFrame, candidate: pd.DataFrame, rules: Any, limits: Thresholds) -> list[Finding]:
    out = []
    held_b, held_c = rules.holds(baseline), rules.holds(candidate)
    for rule in rules:
        kb, kc = int(held_b[rule.name].sum()), int(held_c[rule.name].sum())
        rate_b, rate_c = kb / len(baseline), kc / len(candidate)
        out.append(
            Finding(
                "rule",
                rule.name,
                rate_b,
                rate_c,
                rate_b - rate_c,
                limits.rule_drop,
                _two_proportions(kb, len(baseline), kc, len(candidate)),
            )
        )
    return out


def _marginals(baseline: pd.DataFrame, candidate: pd.DataFrame, limits: Thresholds) -> list[Finding]:
    out = []
    for column in baseline.columns:
        b, c = baseline[column], candidate[column]
        if _is_numeric(b) and _is_numeric(c):
            xb, xc = _numbers(b), _numbers(c)
            xb, xc = xb[np.isfinite(xb)], xc[np.isfinite(xc)]
            if xb.size and xc.size:
                result = stats.ks_2samp(xb, xc, method="asymp" if xb.size * xc.size > 1e6 else "auto")
                distance, p = float(result.statistic), float(result.pvalue)
            else:
                distance, p = float(xb.size != xc.size), 1.0
            missing_b, missing_c = float(b.isna().mean()), float(c.isna().mean())
            distance = max(distance, abs(missing_b - missing_c))
        else:
            lb, lc = _labels(b), _labels(c)
            levels = pd.Index(lb.unique()).union(pd.Index(lc.unique()))
            cb = lb.value_counts().reindex(levels, fill_value=0).to_numpy()
            cc = lc.value_counts().reindex(levels, fill_value=0).to_numpy()
            distance = float(0.5 * np.abs(cb / cb.sum() - cc / cc.sum()).sum())
            p = _homogeneity(cb, cc)
        out.append(Finding("marginal", column, None, None, distance, limits.marginal_distance, p))
    return out


def _coded(baseline: pd.Series, candidate: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Both columns as integer codes: numbers by deciles of the baseline, categories by the baseline's most
    frequent MAX_PAIR_LEVELS values (the rest pooled), missing values as their own code."""
    if _is_numeric(baseline) and _is_numeric(candidate):
        xb, xc = _numbers(baseline), _numbers(candidate)
        present = xb[np.isfinite(xb)]
        edges = (
            np.unique(np.quantile(present, np.linspace(0, 1, NUMERIC_BINS + 1)))[1:-1] if present.size else np.array([])
        )

        def code(x: np.ndarray) -> np.ndarray:
            return np.where(np.isfinite(x), np.searchsorted(edges, x, side="right"), edges.size + 1)

        return code(xb), code(xc), edges.size + 2
    lb, lc = _labels(baseline), _labels(candidate)
    top = lb.value_counts().index[:MAX_PAIR_LEVELS]
    lookup = {value: i for i, value in enumerate(top)}
    pooled = len(top)
    return (
        lb.map(lookup).fillna(pooled).to_numpy(dtype=np.int64),
        lc.map(lookup).fillna(pooled).to_numpy(dtype=np.int64),
        pooled + 1,
    )


def _pairs(baseline: pd.DataFrame, candidate: pd.DataFrame, limits: Thresholds) -> list[Finding]:
    out = []
    columns = list(baseline.columns)
    coded = {c: _coded(baseline[c], candidate[c]) for c in columns}
    for a, b in itertools.combinations(columns, 2):
        if all(_is_numeric(t[c]) for t in (baseline, candidate) for c in (a, b)):
            rb, nb = _correlation(baseline[a], baseline[b])
            rc, nc = _correlation(candidate[a], candidate[b])
            if nb > 3 and nc > 3:
                score = 1 - abs(rb - rc) / 2
                z = np.arctanh(np.clip(rb, -0.999999, 0.999999)) - np.arctanh(np.clip(rc, -0.999999, 0.999999))
                p = float(2 * stats.norm.sf(abs(z) / math.sqrt(1 / (nb - 3) + 1 / (nc - 3))))
                out.append(Finding("pair", f"{a} x {b}", rb, rc, 1 - score, limits.pair_drop, p))
                continue
        (ab, ac, ka), (bb, bc, kb) = coded[a], coded[b]
        cells_b = np.bincount(ab * kb + bb, minlength=ka * kb)
        cells_c = np.bincount(ac * kb + bc, minlength=ka * kb)
        tv = float(0.5 * np.abs(cells_b / cells_b.sum() - cells_c / cells_c.sum()).sum())
        out.append(Finding("pair", f"{a} x {b}", None, None, tv, limits.pair_drop, _homogeneity(cells_b, cells_c)))
    return out


def _correlation(x: pd.Series, y: pd.Series) -> tuple[float, int]:
    a, b = _numbers(x), _numbers(y)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or np.std(a[keep]) == 0 or np.std(b[keep]) == 0:
        return 0.0, 0
    return float(np.corrcoef(a[keep], b[keep])[0, 1]), int(keep.sum())


def _groups(baseline: pd.DataFrame, candidate: pd.DataFrame, column: str, limits: Thresholds) -> list[Finding]:
    gb, gc = _group_labels(baseline[column], baseline[column]), _group_labels(candidate[column], baseline[column])
    out = []
    for group in sorted(set(gb) | set(gc)):
        kb, kc = int((gb == group).sum()), int((gc == group).sum())
        sb, sc = kb / len(gb), kc / len(gc)
        out.append(
            Finding(
                "group",
                f"{column} = {group}",
                sb,
                sc,
                abs(sc - sb),
                limits.share_shift,
                _two_proportions(kb, len(gb), kc, len(gc)),
            )
        )
    return out


def _group_labels(series: pd.Series, reference: pd.Series) -> pd.Series:
    """Groups: categories as they are, numbers in the baseline's quartiles."""
    if _is_numeric(series) and _is_numeric(reference):
        ref = _numbers(reference)
        edges = np.unique(np.nanquantile(ref, [0, 0.25, 0.5, 0.75, 1]))
        x = _numbers(series)
        labels = pd.Series(pd.cut(x, edges, include_lowest=True).astype(str), index=series.index)
        return labels.where(np.isfinite(x), "(missing)")
    return _labels(series)


def positive_label(target: pd.Series) -> Any:
    """The positive label of a categorical target: the rarer of its two most frequent values."""
    counts = _labels(target).value_counts()
    if len(counts) < 2:
        raise InputError(f"target '{target.name}' has a single value; label rates need two")
    return counts.index[1]


def _label_rates(
    baseline: pd.DataFrame, candidate: pd.DataFrame, column: str, target: str, limits: Thresholds
) -> list[Finding]:
    positive = positive_label(baseline[target])
    gb, gc = _group_labels(baseline[column], baseline[column]), _group_labels(candidate[column], baseline[column])
    yb, yc = _labels(baseline[target]) == positive, _labels(candidate[target]) == positive
    out = []
    for group in sorted(set(gb) & set(gc)):
        in_b, in_c = (gb == group).to_numpy(), (gc == group).to_numpy()
        nb, nc = int(in_b.sum()), int(in_c.sum())
        if nb < 30 or nc < 30:
            continue
        kb, kc = int(yb.to_numpy()[in_b].sum()), int(yc.to_numpy()[in_c].sum())
        out.append(
            Finding(
                "label_rate",
                f"{target} = {positive} | {column} = {group}",
                kb / nb,
                kc / nc,
                abs(kc / nc - kb / nb),
                limits.label_rate_shift,
                _two_proportions(kb, nb, kc, nc),
            )
        )
    return out
