"""The Chernoff bounds of the detection tests, and the minimisation they share: ``min_l (-l T + log M(l))`` over
``l >= 0``, for a convex log moment generating function ``M`` given as ``objective(l) = -l T + log M(l)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

if TYPE_CHECKING:  # a type only: cells imports the plan, which imports this module through category_shares
    from synthgov.watermark.cells import TargetShares


def chernoff_minimum(objective: Callable[[float], float], start: float = 1.0, cap: float = 1e8) -> float:
    """log of the Chernoff bound (at most 0): bracket the minimum by doubling ``l`` from ``start`` (up to
    ``cap``), then a bounded scalar search."""
    from scipy import optimize

    upper = start
    while objective(upper * 2) < objective(upper) and upper < cap:
        upper *= 2
    best = optimize.minimize_scalar(objective, bounds=(0.0, upper * 2), method="bounded")
    return min(0.0, float(best.fun))


def chernoff_log_p(total: float, magnitudes: np.ndarray) -> float:
    """log of min_l exp(-l T) prod I0(l A_j): a bound on P(sum A_j cos(theta_j) >= T), theta_j uniform."""
    a = magnitudes[magnitudes > 0]
    if total <= 0 or len(a) == 0:
        return 0.0

    def objective(lam: float) -> float:
        x = lam * a
        return float(-lam * total + np.sum(np.log(special.i0e(x)) + x))

    return chernoff_minimum(objective)


def target_share_log_p(evidence: TargetShares) -> float:
    """log of the Chernoff bound on ``P(sum_j w_j S_j >= observed)``, ``S_j`` the share of context j's cells on
    its target, whose law under the null is exact (:func:`.cells.target_shares`); ``w_j = n_j / (n_j + 10)``.
    The contexts' laws sit in one padded (contexts x values) array (padding has probability 0), so each
    evaluation of the bound is a few array operations instead of a ``logsumexp`` call per context."""
    if len(evidence.observed) == 0:
        return 0.0
    weight = evidence.sizes / (evidence.sizes + 10.0)
    total = float(np.sum(weight * evidence.observed))
    shares, null = _padded(evidence.shares), _padded(evidence.null)
    if total <= float(np.sum(weight * np.sum(null * shares, axis=1))):
        return 0.0
    scaled = weight[:, None] * shares
    top = np.where(null > 0, scaled, -np.inf).max(axis=1)  # the largest term with probability > 0: no overflow

    def objective(lam: float) -> float:
        log_mgf = lam * top + np.log(np.sum(null * np.exp(lam * (scaled - top[:, None])), axis=1))
        return float(-lam * total + np.sum(log_mgf))

    return chernoff_minimum(objective, cap=1e6)


def _padded(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of unequal length as one array, padded with zeros."""
    out = np.zeros((len(rows), max(len(r) for r in rows)))
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out
