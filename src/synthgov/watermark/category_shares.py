"""Keyed category shares: the part of the mark that lives in the table's distribution rather than in its cells.

A model fitted on a release keeps little of the numeric cells' fine structure (SDV's GaussianCopula replaces
every numeric marginal by a fitted beta law), but it reproduces each category's share to within sampling
noise. So the key gives every category of every categorical column a sign ``s_j``, and embedding moves
``delta_j = min(Z x sqrt(n_j (1 - p_j)), 15% x n_j)`` rows (``Z = 1`` binomial standard deviation) from the
categories signed -1 to those signed +1, the two sides scaled to move the same number of rows. The rows moved
are the ones most plausible in their new category (naive-Bayes score over the other categorical columns; a
pair of values never seen together is never made), columns that are a function of the relabelled one follow it
(education-num follows education), and a column that is a function of another (many to one) is never marked.

Detection, on a suspect of ``m`` rows with ``x_j`` rows in category j: ``u_j = (x_j / m - p_j) / sqrt(p_j (1 -
p_j) / m)``, with ``p_j`` the share before embedding (the plan keeps the counts: the issuer's private record,
never a manifest); ``T = sum_j s_j w_j u_j`` with ``w_j = delta_j / sqrt(n_j (1 - p_j))`` (no sign in it).
Under the null the table is independent of the key, so given the ``u_j`` the signs are fair coins and the
Chernoff bound ``P(T >= t) <= min_l exp(-l t) prod_j cosh(l w_j u_j)`` holds whatever the data: a valid p-value,
with no model of how far another generator's shares stray (Hoeffding's ``exp(-t^2 / 2 sum (w_j u_j)^2)`` is
the same bound loosened; the exact moment generating function gains 1-6 nats on Adult). Z = 1 costs
0.0002-0.0005 of Column Shapes on Adult and gives log p of -10 to -29 after a model that keeps only the
shares (0.7: -7 to -17, too close to the 1e-3 that re-synthesis must reach).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgov.table.plain import as_text
from synthgov.watermark import prf
from synthgov.watermark.bounds import chernoff_minimum

SHIFT_Z = 1.0  # rows moved per category, in binomial standard deviations of its count
MAX_RELATIVE = 0.15  # ... but never more than 15% of the category
MIN_COUNT = 10  # categories with fewer rows are never moved or tested
MAX_CATEGORIES = 200  # columns with more categories (identifiers, free text) are not marked
NA = "<NA>"
PREFIX_ROWS = 4096  # is_function_of looks for a counterexample in this many rows before counting every row


def labels(series: pd.Series) -> pd.Series:
    """The string label of each cell (missing: ``<NA>``), as the plan records categories."""
    return as_text(series, NA)


def label_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(labels(series))`` (codes by first appearance, and the labels), without writing every cell as
    text: the distinct values are factorized first and only they become labels (values with the same label, 1 and
    "1", share a code). 5-10x faster on a 250,000-row column of pandas 3's ``str`` dtype."""
    values, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.array([*as_text(pd.Series(uniques, dtype=object), NA).tolist(), NA], dtype=object)
    text_codes, names = pd.factorize(texts)  # a value's label's code; missing (-1) is the last text
    n = len(values)
    first_row = np.full(len(texts), n, dtype=np.int64)  # each value's first row (missing: the last entry)
    first_row[values[::-1]] = np.arange(n - 1, -1, -1)  # repeated indices: the last assignment, the first row, wins
    first_label = np.full(len(names), n, dtype=np.int64)
    np.minimum.at(first_label, text_codes, first_row)
    order = np.argsort(first_label, kind="stable")[: int(np.count_nonzero(first_label < n))]
    renumber = np.full(len(names), -1, dtype=np.int64)
    renumber[order] = np.arange(len(order))  # the labels in order of first appearance in the column
    return renumber[text_codes[values]], np.asarray(names, dtype=object)[order]


def reference_counts(frame: pd.DataFrame, categorical: list[str]) -> dict[str, dict[str, int]]:
    """Category counts of every markable column of ``frame`` (missing values are never moved, so not kept)."""
    named = {c: labels(frame[c]) for c in frame.columns if frame[c].nunique(dropna=False) <= len(frame) / 10}
    coded = {c: pd.factorize(values) for c, values in named.items()}
    out: dict[str, dict[str, int]] = {}
    for column in categorical:
        if column not in named:
            continue
        counts = named[column].value_counts()
        counts = counts[counts.index != NA]
        if 2 <= len(counts) <= MAX_CATEGORIES and (counts >= MIN_COUNT).sum() >= 2 and not _determined(coded, column):
            out[str(column)] = {str(k): int(v) for k, v in counts.items()}
    return out


def _determined(coded: dict[str, tuple[np.ndarray, pd.Index]], column: str) -> bool:
    """Whether ``column`` is a many-to-one function of another column (relabelling it alone would break that);
    only columns of at least 10 rows per value count as functions (in a small table anything looks like one).
    ``coded``: each candidate column's label codes and labels."""
    target, width = coded[column][0], len(coded[column][1])
    for other, (codes, uniques) in coded.items():
        if other != column and len(uniques) > width and is_function_of(codes, len(uniques), target, width):
            return True
    return False


def _signs(key: bytes, column: str, names: list[str]) -> np.ndarray:
    words = prf.keyed_words(key, prf.context_blocks([f"share|{column}|{name}" for name in names]))
    return np.where(prf.uniform(words[:, 0]) < 0.5, -1.0, 1.0)


def _targets(counts: np.ndarray) -> np.ndarray:
    """``delta_j``, the rows to move in each category (0 below ``MIN_COUNT``); independent of the key."""
    share = counts / counts.sum()
    delta = np.minimum(SHIFT_Z * np.sqrt(counts * (1 - share)), MAX_RELATIVE * counts)
    return np.where(counts >= MIN_COUNT, delta, 0.0)


def log_p(frame: pd.DataFrame, reference: dict[str, dict[str, int]], key: bytes) -> float:
    """log of the Chernoff bound (:func:`rademacher_log_p`) for the keyed share shift of ``frame`` (0 when nothing
    is testable)."""
    return log_p_of_tallies(tally(frame, reference), reference, key)


def tally(frame: pd.DataFrame, reference: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The rows of each category of every referenced column of ``frame`` (missing values left out): what
    :func:`log_p_of_tallies` reads, summed over the chunks of a table read in parts."""
    out: dict[str, dict[str, int]] = {}
    for column in reference:
        if column not in frame.columns:
            continue
        codes, found = label_codes(frame[column])
        counts = dict(zip(found, np.bincount(codes, minlength=len(found)).tolist(), strict=True))
        counts.pop(NA, None)
        out[column] = counts
    return out


def add_tallies(total: dict[str, dict[str, int]], more: dict[str, dict[str, int]]) -> None:
    """Add ``more`` (a chunk's :func:`tally`) into ``total``."""
    for column, counts in more.items():
        into = total.setdefault(column, {})
        for name, count in counts.items():
            into[name] = into.get(name, 0) + count


def log_p_of_tallies(tallies: dict[str, dict[str, int]], reference: dict[str, dict[str, int]], key: bytes) -> float:
    """:func:`log_p` from the category counts of the suspect rows (:func:`tally`)."""
    terms: list[np.ndarray] = []
    for column, counts_by_name in reference.items():
        if column not in tallies:
            continue
        found = tallies[column]
        m = sum(found.values())
        if m == 0:
            continue
        names = list(counts_by_name)
        counts = np.array([counts_by_name[n] for n in names], dtype=np.float64)
        share = counts / counts.sum()
        observed = np.array([found.get(n, 0) for n in names], dtype=np.float64) / m
        delta = _targets(counts)
        keep = (delta > 0) & (share < 1)
        sd = np.sqrt(share[keep] * (1 - share[keep]) / m)
        u = (observed[keep] - share[keep]) / sd
        weight = delta[keep] / np.sqrt(counts[keep] * (1 - share[keep]))
        terms.append(_signs(key, column, [n for n, k in zip(names, keep, strict=True) if k]) * weight * u)
    if not terms:
        return 0.0
    a = np.concatenate(terms)
    return rademacher_log_p(a)


def rademacher_log_p(a: np.ndarray) -> float:
    """log of ``min_l exp(-l T) prod_j cosh(l a_j)``, ``T = sum a_j``: a bound on ``P(sum_j e_j |a_j| >= T)``
    for fair random signs ``e_j`` (0 when ``T <= 0``)."""
    a = a[a != 0]
    total = float(a.sum())
    if total <= 0 or len(a) == 0:
        return 0.0

    def objective(lam: float) -> float:
        return float(-lam * total + np.sum(np.logaddexp(lam * a, -lam * a) - np.log(2.0)))

    return chernoff_minimum(objective, start=1.0 / float(np.abs(a).max()))


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """The columns whose shares can carry the mark: everything but numbers and datetimes (booleans count)."""
    return [
        c
        for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
        if not pd.api.types.is_datetime64_any_dtype(frame[c])
    ]


def embed_shares(
    frame: pd.DataFrame, reference: dict[str, dict[str, int]], key: bytes, scale: float = 1.0
) -> pd.DataFrame:
    """``frame`` with the keyed share shift of every referenced column (a copy; see the module docstring).
    ``scale``: the share of the reference's rows that ``frame`` holds, when a release is marked chunk by chunk
    (each chunk moves its part of the rows; the reference is then the first chunk's counts)."""
    out = frame.copy()
    categorical = categorical_columns(out)
    cache = _Codes(out)
    for column, counts_by_name in reference.items():
        if column not in out.columns:
            continue
        names = list(counts_by_name)
        counts = np.array([counts_by_name[n] for n in names], dtype=np.float64)
        signs = _signs(key, column, names)
        delta = _targets(counts) * scale
        up, down = (signs > 0) & (delta > 0), (signs < 0) & (delta > 0)
        moved = min(delta[up].sum(), delta[down].sum())
        if moved < 1:
            continue
        rows = round(float(moved))
        want_up = _integer_quota(delta[up] * moved / delta[up].sum(), rows)
        want_down = _integer_quota(delta[down] * moved / delta[down].sum(), rows)
        _relabel(
            out,
            column,
            dict(zip(np.array(names)[up], want_up, strict=True)),
            dict(zip(np.array(names)[down], want_down, strict=True)),
            [c for c in categorical if c != column],
            cache,
        )
    return out


class _Codes:
    """Integer codes of the columns of a table being relabelled, computed once and dropped when a column
    changes: ``values`` distinguishes values as pandas does (missing is one value), ``labels`` as
    :func:`labels` does."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._values: dict[str, tuple[np.ndarray, int]] = {}
        self._labels: dict[str, tuple[np.ndarray, int]] = {}

    def values(self, column: str) -> tuple[np.ndarray, int]:
        if column not in self._values:
            found, uniques = pd.factorize(self.frame[column], use_na_sentinel=False)
            self._values[column] = (found, len(uniques))
        return self._values[column]

    def labels(self, column: str) -> tuple[np.ndarray, int]:
        if column not in self._labels:
            found, uniques = label_codes(self.frame[column])
            self._labels[column] = (found, len(uniques))
        return self._labels[column]

    def changed(self, columns: list[str]) -> None:
        for column in columns:
            self._values.pop(column, None)
            self._labels.pop(column, None)


def _integer_quota(amounts: np.ndarray, total: int) -> np.ndarray:
    """Whole rows summing to ``total``, largest remainders first."""
    base = np.floor(amounts).astype(np.int64)
    order = np.argsort(-(amounts - base), kind="stable")
    base[order[: max(0, total - int(base.sum()))]] += 1
    return base


def _relabel(
    out: pd.DataFrame, column: str, up: dict[str, int], down: dict[str, int], others: list[str], cache: _Codes
) -> None:
    """Move rows of ``column`` from the ``down`` categories to the ``up`` ones (counts given), most plausible
    first. Counting is done on integer codes, kept between columns (``np.bincount``), rather than with crosstabs
    and group-bys of labels: the same rows, 4-6x faster on Adult."""
    codes, names = label_codes(out[column])
    index_of = {str(name): i for i, name in enumerate(names)}
    k, n = len(names), len(out)
    _, first = np.unique(codes, return_index=True)  # the first row of each category
    firsts = out[column].iloc[first].to_numpy()  # one value per category: converted once, not per name
    value_of = {name: firsts[index_of[name]] for name in {*up, *down} if name in index_of}
    followers = [o for o in out.columns if o != column and is_function_of(codes, k, *cache.values(o))]
    follow_value = {o: out[o].iloc[first].to_numpy() for o in followers}  # per category (a follower has one value)
    # naive-Bayes log lift of every (category, other value) pair; -inf where the pair was never seen
    lift: list[tuple[np.ndarray, np.ndarray]] = []
    for other in others:
        if other in followers:
            continue
        other_codes, m = cache.labels(other)
        table = np.bincount(codes * m + other_codes, minlength=k * m).reshape(k, m)
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
        with np.errstate(divide="ignore"):
            score = np.where(table > 0, np.log((table + 1) / (expected + 1)), -np.inf)
        lift.append((other_codes, score))
    quota = dict(down)
    taken = np.zeros(n, dtype=bool)
    for name, need in sorted(up.items()):
        owed_by_code = np.zeros(k, dtype=np.int64)
        for d, q in quota.items():
            if q > 0 and d in index_of:
                owed_by_code[index_of[d]] = q
        candidates = np.flatnonzero((owed_by_code[codes] > 0) & ~taken)
        if need <= 0 or len(candidates) == 0 or name not in index_of:
            continue
        score = np.zeros(len(candidates))
        for other_codes, table in lift:
            score += table[index_of[name]][other_codes[candidates]]
        rows = _most_plausible(candidates, score, codes, owed_by_code, need)
        if len(rows) == 0:
            continue
        for c, count in zip(*np.unique(names[codes[rows]], return_counts=True), strict=True):
            quota[c] -= int(count)
        taken[rows] = True
        out.iloc[rows, out.columns.get_loc(column)] = value_of[name]
        for other in followers:
            out.iloc[rows, out.columns.get_loc(other)] = follow_value[other][index_of[name]]
    cache.changed([column, *followers])


def _most_plausible(
    candidates: np.ndarray, score: np.ndarray, codes: np.ndarray, owed_by_code: np.ndarray, need: int
) -> np.ndarray:
    """The rows to relabel: candidates by decreasing score (ties in row order; never a pair of values not seen
    together, score -inf), a row taken while its category still owes rows (each category's first ``owed`` rows in
    this order), until ``need`` rows are taken. The order is sorted for the best-scored rows first (all ties of the
    last score included, so it is the full order's beginning) and for every row only when those fall short."""
    finite = np.isfinite(score)
    prefix = min(int(finite.sum()), max(8 * need, 4096))
    if prefix == 0:
        return candidates[:0]
    if prefix < int(finite.sum()):
        bar = np.partition(score[finite], len(score[finite]) - prefix)[len(score[finite]) - prefix]
        for kept in (finite & (score >= bar), finite):
            chosen = _taken_in_order(candidates[kept], score[kept], codes, owed_by_code, need)
            if len(chosen) == need:
                return chosen
        return chosen
    return _taken_in_order(candidates[finite], score[finite], codes, owed_by_code, need)


def _taken_in_order(
    candidates: np.ndarray, score: np.ndarray, codes: np.ndarray, owed_by_code: np.ndarray, need: int
) -> np.ndarray:
    order = candidates[np.argsort(-score, kind="stable")]
    source = codes[order]
    seen = pd.Series(source).groupby(source, sort=False).cumcount().to_numpy()
    return order[seen < owed_by_code[source]][:need]


def is_function_of(codes: np.ndarray, k: int, values: np.ndarray, n_values: int) -> bool:
    """Whether a column with codes ``values`` (of ``n_values`` values; missing counts as one) holds at most one
    value within each of the ``k`` categories given by ``codes``."""
    if len(codes) > 2 * PREFIX_ROWS and not is_function_of(codes[:PREFIX_ROWS], k, values[:PREFIX_ROWS], n_values):
        return False  # a counterexample in the first rows settles it (most columns are not functions of another)
    width = max(n_values, 1)
    pairs = codes.astype(np.int64) * width + values
    if k * width <= 1 << 24:  # a table of the pairs seen (a count per cell) is cheaper than sorting them
        return bool((np.count_nonzero(np.bincount(pairs, minlength=k * width).reshape(k, width), axis=1) <= 1).all())
    pairs = np.unique(pairs)
    return len(pairs) == len(np.unique(pairs // width))
