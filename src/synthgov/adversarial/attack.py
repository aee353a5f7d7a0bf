"""A constrained black-box attack: a seeded random search in the threat model's ball around each row, refined
greedily from the best candidate of each round, then shrunk towards the original; every candidate is checked
against the threat model (schema ranges, categories, immutables, value rules) before it counts. It needs only
the model's probabilities, so it works for trees (no gradient), like MOEVA's search; it is the repair-then-score
loop of CAPGD without the gradient step.

A row is attacked when the model classifies it correctly; the attack succeeds when a feasible row flips the
decision (probability of the positive label across 0.5). Among successes the smallest change is kept (numeric
moves in shares of the column's range plus one per changed category)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.adversarial.classifier import Classifier
from synthgov.adversarial.threat import ThreatModel

logger = logging.getLogger(__name__)

CANDIDATES = 24  # candidates per row and round
ROUNDS = 6
SHRINK_STEPS = (0.25, 0.5, 0.75)  # shares of the change kept when shrinking a success towards its original
NUMERIC_MOVE = 0.6  # the chance that a candidate moves a given numeric column
CATEGORY_MOVE = 0.3  # the chance that a candidate changes one categorical column


@dataclass
class AttackResult:
    attacked: int  # rows the model classified correctly (the others need no attack)
    succeeded: np.ndarray  # per attacked row
    adversarial: pd.DataFrame  # the successful rows, indexed like their originals
    distance: np.ndarray  # per successful row

    @property
    def success_rate(self) -> float:
        return float(self.succeeded.mean()) if self.attacked else 0.0


def attack(
    model: Classifier, rows: pd.DataFrame, labels: np.ndarray, threat: ThreatModel, rng: np.random.Generator
) -> AttackResult:
    """Attack ``rows`` (true ``labels``, True for the positive label) under ``threat``."""
    rows = rows.reset_index(drop=True)
    correct = (model.positive(rows) >= 0.5) == labels
    feasible = threat.feasible(rows, rows)  # a row breaking a rule already is no attack target
    keep = np.flatnonzero(correct & feasible)
    originals = rows.iloc[keep].reset_index(drop=True)
    truth = labels[keep]
    n = len(originals)
    best = originals.copy()
    best_margin = _margin(model.positive(best), truth)
    found = originals.copy()
    distance = np.full(n, np.inf)
    with progress.step(f"adversarial: {n:,} rows x {ROUNDS} rounds", total=ROUNDS) as advance:
        for _ in range(ROUNDS):
            if n == 0:
                break
            candidates, owner = _perturb(best, originals, threat, rng)
            ok = threat.feasible(candidates, originals.iloc[owner])
            margin = np.where(ok, _margin(model.positive(candidates), truth[owner]), np.inf)
            size = np.where(ok, _distance(candidates, originals.iloc[owner], threat), np.inf)
            _keep_successes(candidates, owner, margin, size, found, distance)
            order = np.lexsort((margin, owner))  # per row, the candidate with the smallest margin first
            first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
            better = margin[first] < best_margin[owner[first]]
            rows_better = owner[first][better]
            best.iloc[rows_better] = candidates.iloc[first[better]].to_numpy()
            best_margin[rows_better] = margin[first[better]]
            advance(1)
    succeeded = np.isfinite(distance)
    _shrink(model, found, originals, truth, succeeded, distance, threat)
    adversarial = found[succeeded].copy()
    adversarial.index = keep[succeeded]
    return AttackResult(n, succeeded, adversarial, distance[succeeded])


def _margin(positive: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """How far the model is from flipping: > 0 while it still decides for the true label."""
    return np.where(truth, positive - 0.5, 0.5 - positive)


def _perturb(
    start: pd.DataFrame, originals: pd.DataFrame, threat: ThreatModel, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    owner = np.repeat(np.arange(len(start)), CANDIDATES)
    out = start.iloc[owner].reset_index(drop=True).copy()
    base = originals.iloc[owner].reset_index(drop=True)
    m = len(out)
    for column, bound in threat.numeric.items():
        values = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=float)
        origin = pd.to_numeric(base[column], errors="coerce").to_numpy(dtype=float)
        radius = threat.budget * bound.span
        move = rng.random(m) < NUMERIC_MOVE
        stepped = values + rng.uniform(-radius, radius, m) * move
        stepped = np.clip(stepped, np.maximum(origin - radius, bound.low), np.minimum(origin + radius, bound.high))
        if bound.whole:
            stepped = np.clip(np.round(stepped), np.ceil(np.maximum(origin - radius, bound.low) - 1e-9),
                              np.floor(np.minimum(origin + radius, bound.high) + 1e-9))  # fmt: skip
        stepped = np.where(np.isnan(origin), origin, stepped)
        out[column] = _like(out[column], stepped)
    names = list(threat.categorical)
    if names and threat.max_categorical:
        change = rng.random(m) < CATEGORY_MOVE
        which = rng.integers(0, len(names), m)
        for j, column in enumerate(names):
            rows = np.flatnonzero(change & (which == j) & base[column].notna().to_numpy())
            if rows.size:
                values = np.array(threat.categorical[column], dtype=object)
                picked = values[rng.integers(0, len(values), rows.size)]
                column_values = np.array(out[column].astype(object), dtype=object)
                column_values[rows] = picked
                out[column] = pd.Series(column_values, dtype=out[column].dtype if _keeps(out[column]) else object)
        out = _revert_extra_categories(out, base, names, threat.max_categorical)
    return out, owner


def _keeps(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series)


def _like(series: pd.Series, values: np.ndarray) -> pd.Series:
    if pd.api.types.is_integer_dtype(series.dtype) and not np.isnan(values).any():
        return pd.Series(values.astype(np.int64), index=series.index, dtype=series.dtype)
    return pd.Series(values, index=series.index)


def _revert_extra_categories(out: pd.DataFrame, base: pd.DataFrame, names: list[str], limit: int) -> pd.DataFrame:
    changed = pd.DataFrame(
        {c: ~((out[c].astype(object) == base[c].astype(object)) | (out[c].isna() & base[c].isna())) for c in names}
    )
    running = changed.cumsum(axis=1)
    for column in names:
        undo = (changed[column] & (running[column] > limit)).to_numpy()
        if undo.any():
            values = np.array(out[column].astype(object), dtype=object)
            values[undo] = base[column].astype(object).to_numpy()[undo]
            out[column] = pd.Series(values, dtype=out[column].dtype)
    return out


def _distance(rows: pd.DataFrame, originals: pd.DataFrame, threat: ThreatModel) -> np.ndarray:
    total = np.zeros(len(rows))
    for column, bound in threat.numeric.items():
        a = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(originals[column], errors="coerce").to_numpy(dtype=float)
        total += np.nan_to_num(np.abs(a - b) / bound.span)
    for column in threat.categorical:
        a, b = rows[column].reset_index(drop=True), originals[column].reset_index(drop=True)
        total += (~((a.astype(object) == b.astype(object)) | (a.isna() & b.isna()))).to_numpy()
    return total


def _keep_successes(
    candidates: pd.DataFrame,
    owner: np.ndarray,
    margin: np.ndarray,
    size: np.ndarray,
    found: pd.DataFrame,
    distance: np.ndarray,
) -> None:
    won = np.flatnonzero(margin < 0)
    if not won.size:
        return
    order = won[np.lexsort((size[won], owner[won]))]
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    better = size[first] < distance[owner[first]]
    rows = owner[first][better]
    found.iloc[rows] = candidates.iloc[first[better]].to_numpy()
    distance[rows] = size[first[better]]


def _shrink(
    model: Classifier,
    found: pd.DataFrame,
    originals: pd.DataFrame,
    truth: np.ndarray,
    succeeded: np.ndarray,
    distance: np.ndarray,
    threat: ThreatModel,
) -> None:
    """Move each success's numeric changes back towards the original while it still succeeds and stays feasible."""
    rows = np.flatnonzero(succeeded)
    if not rows.size:
        return
    for share in SHRINK_STEPS:
        trial = found.iloc[rows].copy()
        base = originals.iloc[rows]
        for column, bound in threat.numeric.items():
            a = pd.to_numeric(trial[column], errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(base[column], errors="coerce").to_numpy(dtype=float)
            moved = b + share * (a - b)
            if bound.whole:
                moved = np.round(moved)
            trial[column] = _like(trial[column], np.where(np.isnan(a), a, moved)).to_numpy()
        ok = threat.feasible(trial, base) & (_margin(model.positive(trial), truth[rows]) < 0)
        size = _distance(trial, base, threat)
        better = ok & (size < distance[rows])
        if better.any():
            found.iloc[rows[better]] = trial[better].to_numpy()
            distance[rows[better]] = size[better]
