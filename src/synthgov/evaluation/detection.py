"""Detection (classifier two-sample test) and alpha-precision / beta-recall."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthgov.evaluation.prepare import Encoding, Tables, sample_rows

DETECTION_ROWS = 10_000  # per table
ALPHA_BETA_ROWS = 5_000


def detection_auc(
    tables: Tables, encoding: Encoding, rng: np.random.Generator, folds: int = 3, rows: int = DETECTION_ROWS
) -> dict[str, Any]:
    """Cross-validated ROC AUC of gradient boosting telling real rows from synthetic ones (0.5: indistinguishable).

    Identical rows are kept in the same fold (grouped cross-validation): otherwise a synthetic copy of a real
    row in the training folds teaches the opposite label of its twin in the test fold, and copying would read
    as an AUC far below 0.5 instead of as indistinguishable."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    real = sample_rows(tables.real, rows, rng)
    synthetic = sample_rows(tables.synthetic, rows, rng)
    x = pd.concat([encoding.model_frame(real), encoding.model_frame(synthetic)], ignore_index=True)
    y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
    rows = pd.concat([real[tables.columns], synthetic[tables.columns]], ignore_index=True).astype(str)
    groups = pd.util.hash_pandas_object(rows, index=False).to_numpy()
    scores = np.zeros(len(y))
    seed = int(rng.integers(2**31))
    for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, y, groups):
        model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
        model.fit(x.iloc[train], y[train])
        scores[test] = model.predict_proba(x.iloc[test])[:, 1]
    return {"detection_auc": float(roc_auc_score(y, scores)), "detection_rows": [len(real), len(synthetic)]}


def alpha_precision_beta_recall(
    tables: Tables, encoding: Encoding, rng: np.random.Generator, steps: int = 30
) -> dict[str, float]:
    """Alaa et al. 2022 ("How faithful is your synthetic data?"), the naive estimators as in synthcity.

    Rows are embedded (numbers scaled to [0, 1], categories one-hot). alpha-precision: for each alpha, the share
    of synthetic rows inside the real alpha-ball (centred at the real mean, radius the alpha-quantile of real
    distances); beta-recall: the share of real rows whose nearest synthetic row is closer than their nearest real
    neighbour and lies inside the synthetic beta-ball. Each curve is summarised as 1 - 2 x its mean absolute
    deviation from the diagonal (1: ideal)."""
    real = sample_rows(tables.real, ALPHA_BETA_ROWS, rng)
    synthetic = sample_rows(tables.synthetic, ALPHA_BETA_ROWS, rng)
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
