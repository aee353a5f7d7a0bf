"""Singling-out, linkability and attribute-inference risks, by the method of Giomi et al. 2022 ("A Unified
Framework for Quantifying Privacy Risk in Synthetic Data", PoPETs 2023; the ``anonymeter`` method endorsed by
the French regulator CNIL), implemented here because anonymeter's pins (numpy<1.27, pyarrow<22) cannot live
with synthgov's dependencies. ``benchmarks/crosscheck_anonymeter.py`` checks agreement in an isolated venv.

Each attack is run against training rows (``ori``) and against control rows never used for training (the
holdout); both sets have the same size (so the singling-out control needs no size correction). Success rates
use the Wilson score interval; the risk is the excess of the training success over the control success,
``(r_train - r_control) / (1 - r_control)``, with the error propagated, bounded to [0, 1], at 95% confidence.
A random-guess baseline is reported alongside: an attack no better than it cannot be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from synthgov.evaluation.distances import MixedNeighbors
from synthgov.evaluation.prepare import Encoding, Tables, as_numbers

N_ATTACKS = 500
MAX_QUERY_ATTEMPTS = 500_000
QUERY_SECONDS = 15.0  # time budget for forming singling-out predicates
CONFIDENCE = 0.95


@dataclass
class Rate:
    value: float
    error: float


def wilson(n_total: int, n_success: float, confidence: float = CONFIDENCE) -> Rate:
    z = norm.ppf(0.5 * (1 + confidence))
    n_total = max(n_total, 1)
    denominator = n_total + z * z
    rate = (n_success + 0.5 * z * z) / denominator
    error = z / denominator * sqrt(max(n_success * (n_total - n_success) / n_total, 0) + 0.25 * z * z)
    return Rate(rate, error)


def risk(n_attacks: int, n_success: float, n_control: float, n_baseline: float) -> dict[str, Any]:
    attack, control, baseline = (
        wilson(n_attacks, n_success),
        wilson(n_attacks, n_control),
        wilson(n_attacks, n_baseline),
    )
    residual = (attack.value - control.value) / (1 - control.value)
    error = sqrt(
        (attack.error / abs(1 - control.value)) ** 2
        + (control.error * (attack.value - 1) / (1 - control.value) ** 2) ** 2
    )
    clip = lambda v: min(max(v, 0.0), 1.0)  # noqa: E731
    return {
        "risk": clip(residual),
        "ci": [clip(residual - error), clip(residual + error)],
        "attack_rate": attack.value,
        "control_rate": control.value,
        "baseline_rate": baseline.value,
        "n_attacks": n_attacks,
        "n_success": n_success,
        "n_control": n_control,
        "n_baseline": n_baseline,
        "trustworthy": attack.value > baseline.value,
    }


class _Columns:
    """Columns of one table for fast predicate counting: numbers as floats with a sort order, categories as
    shared codes with the rows of each code. A conjunction is counted from its most selective condition's
    rows (found by binary search or lookup), then filtered by the others."""

    def __init__(self, frame: pd.DataFrame, tables: Tables, vocab: dict[str, pd.Index]) -> None:
        self.n = len(frame)
        self.data: dict[str, np.ndarray] = {}
        self.order: dict[str, np.ndarray] = {}
        self.sorted: dict[str, np.ndarray] = {}
        self.valid: dict[str, int] = {}
        self.groups: dict[str, dict[int, np.ndarray]] = {}
        for c in tables.columns:
            if tables.is_continuous(c):
                x = as_numbers(frame[c]).to_numpy()
                order = np.argsort(x, kind="stable")  # NaN last
                self.data[c], self.order[c], self.sorted[c] = x, order, x[order]
                self.valid[c] = int(np.isfinite(x).sum())
            else:
                values = frame[c].astype(object).where(frame[c].notna(), None)
                codes = vocab[c].get_indexer(values)
                self.data[c] = codes
                order = np.argsort(codes, kind="stable")
                uniq, starts = np.unique(codes[order], return_index=True)
                bounds = np.append(starts, codes.size)
                self.groups[c] = {int(u): order[bounds[i] : bounds[i + 1]] for i, u in enumerate(uniq)}

    def _rows(self, col: str, op: str, value: float) -> np.ndarray | None:
        """Rows meeting one condition, or None when the condition is not selective (!=)."""
        if col in self.groups:
            if op == "null":
                return self.groups[col].get(-1, np.empty(0, dtype=np.int64))
            if op == "==":
                return self.groups[col].get(int(value), np.empty(0, dtype=np.int64))
            return None
        order, sorted_, valid = self.order[col], self.sorted[col], self.valid[col]
        if op == "null":
            return order[valid:]
        finite = sorted_[:valid]
        if op == ">=":
            return order[np.searchsorted(finite, value, "left") : valid]
        if op == ">":
            return order[np.searchsorted(finite, value, "right") : valid]
        if op == "<=":
            return order[: np.searchsorted(finite, value, "right")]
        if op == "<":
            return order[: np.searchsorted(finite, value, "left")]
        if op == "==":
            return order[np.searchsorted(finite, value, "left") : np.searchsorted(finite, value, "right")]
        return None

    def count(self, query: list[tuple[str, str, float]]) -> int:
        candidates = [(self._rows(*cond), cond) for cond in query]
        selective = [(r, cond) for r, cond in candidates if r is not None]
        if selective:
            base, first = min(selective, key=lambda item: item[0].size)
            rows = base
            rest = [cond for cond in query if cond is not first]
        else:
            rows, rest = np.arange(self.n), query
        for col, op, value in rest:
            if rows.size == 0:
                return 0
            x = self.data[col][rows]
            if op == "null":
                keep = np.isnan(x) if x.dtype.kind == "f" else x == -1
            elif op == "==":
                keep = x == value
            elif op == "!=":
                keep = x != value
            elif op == ">=":
                keep = x >= value
            elif op == "<=":
                keep = x <= value
            elif op == ">":
                keep = x > value
            else:
                keep = x < value
            rows = rows[keep]
        return int(rows.size)


def _vocabulary(frames: list[pd.DataFrame], tables: Tables) -> dict[str, pd.Index]:
    vocab = {}
    for c in tables.columns:
        if not tables.is_continuous(c):
            values = pd.concat([f[c] for f in frames]).dropna().unique()
            vocab[c] = pd.Index(values)
    return vocab


def singling_out(
    ori: pd.DataFrame,
    syn: pd.DataFrame,
    control: pd.DataFrame,
    tables: Tables,
    rng: np.random.Generator,
    n_attacks: int = N_ATTACKS,
    n_cols: int = 3,
) -> dict[str, Any]:
    """Multivariate singling out: predicates on ``n_cols`` attributes of a synthetic record that single out
    exactly one synthetic row; success when they single out exactly one row of the target table."""
    ori, syn, control = (f.drop_duplicates() for f in (ori, syn, control))
    vocab = _vocabulary([ori, syn, control], tables)
    c_syn, c_ori, c_ctl = (_Columns(f, tables, vocab) for f in (syn, ori, control))
    columns = tables.columns
    n_cols = min(n_cols, len(columns))
    medians = {c: np.nanmedian(c_syn.data[c]) for c in columns if tables.is_continuous(c)}
    queries: list[list[tuple[str, str, float]]] = []
    seen: set[str] = set()
    attempts = 0
    import time

    deadline = time.perf_counter() + QUERY_SECONDS
    while len(queries) < n_attacks and attempts < MAX_QUERY_ATTEMPTS:
        attempts += 1
        if attempts % 1000 == 0 and time.perf_counter() > deadline:
            break
        row = int(rng.integers(c_syn.n))
        query = []
        for col in sorted(rng.choice(columns, size=n_cols, replace=False)):
            value = c_syn.data[col][row]
            if tables.is_continuous(col):
                if np.isnan(value):
                    query.append((col, "null", 0.0))
                else:
                    query.append((col, ">=" if value > medians[col] else "<=", float(value)))
            elif value < 0:
                query.append((col, "null", 0.0))
            else:
                query.append((col, "==", float(value)))
        key = repr(query)
        if key in seen or c_syn.count(query) != 1:
            continue
        seen.add(key)
        queries.append(query)
    n = len(queries)
    if n == 0:
        return {"risk": 0.0, "ci": [0.0, 0.0], "n_attacks": 0, "note": "no singling-out predicate could be formed"}
    n_success = sum(c_ori.count(q) == 1 for q in queries)
    n_control = sum(c_ctl.count(q) == 1 for q in queries)
    n_baseline = sum(c_ori.count(q) == 1 for q in _random_queries(c_syn, tables, n, n_cols, rng))
    out = risk(n, n_success, n_control, n_baseline)
    out["query_attempts"] = attempts
    return out


def _random_queries(
    c_syn: _Columns, tables: Tables, n: int, n_cols: int, rng: np.random.Generator
) -> list[list[tuple[str, str, float]]]:
    columns = tables.columns
    uniques = {c: pd.unique(c_syn.data[c]) for c in columns}
    out = []
    for _ in range(n):
        query = []
        for col in sorted(rng.choice(columns, size=n_cols, replace=False)):
            value = float(rng.choice(uniques[col]))
            ops = ["==", "!=", ">", "<", ">=", "<="] if tables.is_continuous(col) else ["==", "!="]
            query.append((col, str(rng.choice(ops)), value))
        out.append(query)
    return out


def linkability(
    ori: pd.DataFrame,
    syn: pd.DataFrame,
    control: pd.DataFrame,
    tables: Tables,
    encoding: Encoding,
    rng: np.random.Generator,
    n_attacks: int = N_ATTACKS,
) -> dict[str, Any]:
    """The attacker holds two datasets sharing columns A and B with the training table; a target is linked when
    its A-part and its B-part have the same nearest synthetic row."""
    columns = tables.columns
    cols_a, cols_b = columns[0::2], columns[1::2]
    n = min(n_attacks, len(ori), len(control))
    neighbours_a = MixedNeighbors(encoding, syn, cols_a)
    neighbours_b = MixedNeighbors(encoding, syn, cols_b)

    def links(targets: pd.DataFrame) -> int:
        _, ia = neighbours_a.kneighbors(targets, k=1)
        _, ib = neighbours_b.kneighbors(targets, k=1)
        return int((ia[:, 0] == ib[:, 0]).sum())

    n_success = links(ori.iloc[rng.choice(len(ori), n, replace=False)])
    n_control = links(control.iloc[rng.choice(len(control), n, replace=False)])
    n_baseline = int((rng.integers(len(syn), size=n) == rng.integers(len(syn), size=n)).sum())
    out = risk(n, n_success, n_control, n_baseline)
    out["aux_columns"] = [cols_a, cols_b]
    return out


def inference(
    ori: pd.DataFrame,
    syn: pd.DataFrame,
    control: pd.DataFrame,
    tables: Tables,
    encoding: Encoding,
    secret: str,
    rng: np.random.Generator,
    n_attacks: int = N_ATTACKS,
) -> dict[str, Any]:
    """The attacker knows every other column of a target and guesses ``secret`` from the nearest synthetic row;
    a guess is right when equal (categories) or within 5% (numbers)."""
    aux = [c for c in tables.columns if c != secret]
    n = min(n_attacks, len(ori), len(control))
    neighbours = MixedNeighbors(encoding, syn, aux)
    numeric = tables.is_continuous(secret)
    secret_syn = as_numbers(syn[secret]).to_numpy() if numeric else syn[secret].to_numpy(dtype=object)

    def correct(guesses: np.ndarray, truth: pd.Series) -> int:
        if numeric:
            t = as_numbers(truth).to_numpy()
            ok = np.abs(guesses - t) <= 0.05 * np.abs(guesses) + 1e-12
            return int((ok | (np.isnan(guesses) & np.isnan(t))).sum())
        t = truth.to_numpy(dtype=object)
        return int(sum((g == v) or (pd.isna(g) and pd.isna(v)) for g, v in zip(guesses, t, strict=True)))

    def attack(targets: pd.DataFrame) -> int:
        _, idx = neighbours.kneighbors(targets, k=1)
        return correct(secret_syn[idx[:, 0]], targets[secret])

    ori_targets = ori.iloc[rng.choice(len(ori), n, replace=False)]
    n_success = attack(ori_targets)
    n_control = attack(control.iloc[rng.choice(len(control), n, replace=False)])
    n_baseline = correct(secret_syn[rng.integers(len(syn), size=n)], ori_targets[secret])
    out = risk(n, n_success, n_control, n_baseline)
    out["secret"] = secret
    return out
