"""Detection (classifier two-sample test) and alpha-precision / beta-recall."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthgov.evaluation.prepare import Encoding, Tables, sample_rows
from synthgov.table.plain import as_text

DETECTION_ROWS = 10_000  # per table
ALPHA_BETA_ROWS = 5_000


def detection_auc(
    tables: Tables, encoding: Encoding, rng: np.random.Generator, folds: int = 3, rows: int = DETECTION_ROWS
) -> dict[str, Any]:
    """Cross-validated ROC AUC of gradient boosting telling real rows from synthetic ones (0.5: indistinguishable).

    Identical rows are kept in the same fold (grouped cross-validation, :func:`grouped_stratified_folds`):
    otherwise a synthetic copy of a real row in the training folds teaches the opposite label of its twin in the
    test fold, and copying would read as an AUC far below 0.5 instead of as indistinguishable."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    real = sample_rows(tables.real, rows, rng)
    synthetic = sample_rows(tables.synthetic, rows, rng)
    x = pd.concat([encoding.model_frame(real), encoding.model_frame(synthetic)], ignore_index=True)
    y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
    rows = as_text(pd.concat([real[tables.columns], synthetic[tables.columns]], ignore_index=True))
    groups = pd.util.hash_pandas_object(rows, index=False).to_numpy()
    scores = np.zeros(len(y))
    seed = int(rng.integers(2**31))
    fold_of = grouped_stratified_folds(y, groups, folds, np.random.default_rng(seed))
    for fold in range(folds):
        train, test = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
        if len(test) == 0:
            continue
        if len(np.unique(y[train])) < 2:  # a table of one repeated row: nothing to learn, a constant guess
            scores[test] = y[train].mean() if len(train) else 0.5
            continue
        model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
        model.fit(x.iloc[train], y[train])
        scores[test] = model.predict_proba(x.iloc[test])[:, 1]
    return {"detection_auc": float(roc_auc_score(y, scores)), "detection_rows": [len(real), len(synthetic)]}


def grouped_stratified_folds(y: np.ndarray, groups: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """The fold of each row, for binary labels ``y``: rows of the same group share a fold, and each label's rows
    are spread evenly over the folds (scikit-learn's ``StratifiedGroupKFold`` does this with a Python loop over
    groups, 3 s for 20,000 rows of which nearly every row is its own group).

    Groups of several rows are placed first, largest first, each in the fold that holds the fewest rows of the
    group's majority label so far; then the single rows of each label, in random order, each in the fold with
    the fewest rows of that label (ties: the lower fold), so those counts end within one row of each other
    whenever the larger groups allow it."""
    _, group = np.unique(groups, return_inverse=True)
    sizes = np.bincount(group)
    ones = np.bincount(group, weights=y, minlength=len(sizes)).astype(np.int64)
    label = (ones * 2 >= sizes).astype(np.int64)
    fold_of_group = np.full(len(sizes), -1)
    filled = np.zeros((2, folds), dtype=np.int64)  # rows of each label in each fold
    several = np.flatnonzero(sizes > 1)
    for g in several[np.lexsort((rng.permutation(len(several)), -sizes[several]))]:
        fold = int(np.argmin(filled[label[g]]))
        fold_of_group[g] = fold
        filled[:, fold] += (sizes[g] - ones[g], ones[g])
    for value in (0, 1):
        single = np.flatnonzero((sizes == 1) & (label == value))
        single = single[rng.permutation(len(single))]
        # the k-th row goes to the k-th lowest free slot: fold f's slots sit at levels filled[f], filled[f] + 1, ...
        levels = filled[value][:, None] + np.arange(len(single))[None, :]
        slots = np.argsort(levels, axis=None, kind="stable")[: len(single)]  # row-major: ties go to the lower fold
        fold_of_group[single] = slots // max(len(single), 1)
    return fold_of_group[group]


def alpha_precision_beta_recall(
    tables: Tables, encoding: Encoding, rng: np.random.Generator, steps: int = 30
) -> dict[str, float]:
    """Alaa et al. 2022 ("How faithful is your synthetic data?"), the naive estimators as in synthcity.

    Rows are embedded (numbers scaled to [0, 1], categories one-hot). alpha-precision: for each alpha, the share
    of synthetic rows inside the real alpha-ball (centred at the real mean, radius the alpha-quantile of real
    distances); beta-recall: the share of real rows whose nearest synthetic row is closer than their nearest real
    neighbour and lies inside the synthetic beta-ball. Each curve is summarised as 1 - 2 x its mean absolute
    deviation from the diagonal (1: ideal)."""
    size = min(len(tables.real), len(tables.synthetic), ALPHA_BETA_ROWS)  # equal sizes: nearest-neighbour
    real = sample_rows(tables.real, size, rng)  # distances shrink with the sample, and recall compares the two
    synthetic = sample_rows(tables.synthetic, size, rng)
    xr = np.hstack([encoding.numbers(real), encoding.one_hot(real)]).astype(np.float64)
    xs = np.hstack([encoding.numbers(synthetic), encoding.one_hot(synthetic)]).astype(np.float64)
    alphas = np.linspace(0, 1, steps)
    center_r, center_s = xr.mean(axis=0), xs.mean(axis=0)
    radii = np.quantile(np.linalg.norm(xr - center_r, axis=1), alphas)
    syn_dist = np.linalg.norm(xs - center_r, axis=1)
    precision_curve = np.array([np.mean(syn_dist <= r) for r in radii])
    real_to_real = _nearest(xr, xr, exclude_self=True)[0]
    real_to_syn, idx = _nearest(xr, xs)
    closest_d = np.linalg.norm(xs[idx] - center_s, axis=1)
    syn_radii = np.quantile(closest_d, alphas)
    recall_curve = np.array([np.mean((real_to_syn <= real_to_real) & (closest_d <= r)) for r in syn_radii])
    step = alphas[1] - alphas[0]
    return {
        "alpha_precision": float(1 - 2 * np.sum(np.abs(alphas - precision_curve)) * step),
        "beta_recall": float(1 - 2 * np.sum(np.abs(alphas - recall_curve)) * step),
        "authenticity": float(np.mean(real_to_syn > real_to_real)),
    }


def _nearest(
    queries: np.ndarray, candidates: np.ndarray, exclude_self: bool = False, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean nearest neighbour of each query among candidates (BLAS, chunked)."""
    sq_c = np.einsum("ij,ij->i", candidates, candidates)
    dist = np.empty(len(queries))
    index = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + sq_c[None, :] - 2 * q @ candidates.T
        if exclude_self:
            rows = np.arange(q.shape[0])
            d2[rows, start + rows] = np.inf
        best = np.argmin(d2, axis=1)
        index[start : start + chunk] = best
        dist[start : start + chunk] = np.sqrt(np.maximum(d2[np.arange(q.shape[0]), best], 0))
    return dist, index
