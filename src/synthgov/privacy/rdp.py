"""Rényi differential privacy (RDP, Mironov 2017): the accountant of releases that mix zCDP measurements with
DP-SGD, and of a source's ledger once such a release is in it.

A mechanism is (alpha, epsilon(alpha))-RDP for each order alpha > 1; mechanisms run one after another compose by
adding their curves order by order. A rho-zCDP mechanism has the curve rho * alpha, so zCDP lines (``rho``) and RDP
lines (``rdp``: the curve on :data:`ORDERS`) compose on one grid. The (epsilon, delta) statement is the conversion of
Balle et al. 2020 (Theorem 21), minimised over the grid:
epsilon = min over alpha of curve(alpha) + log((alpha - 1) / alpha) - (log delta + log alpha) / (alpha - 1).
It is what opacus' RDP accountant states (tests/test_dp_sgd.py checks it against opacus and against Google's
dp-accounting). A grid gives an epsilon no smaller than the continuous optimum, so the statement stays an upper
bound; releases made only of zCDP lines keep the tight zCDP conversion of :mod:`.accounting`. A line with a
``delta`` of its own (delta-approximate zCDP, Bun & Steinke 2016: categories estimated by Gaussian thresholding)
takes that delta off the one the statement is made at.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from synthgov.errors import InputError
from synthgov.privacy.accounting import cdp_epsilon

logger = logging.getLogger(__name__)

ACCOUNTANT = (
    "RDP (Mironov 2017) on a grid of orders; zCDP lines as rho * alpha; (epsilon, delta) by Balle et al. 2020, "
    "Theorem 21"
)
#: the orders of every RDP curve (opacus' default grid, extended to 256 for small budgets)
ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [80, 96, 128, 160, 192, 256]
)


def curve_of(line: dict[str, Any]) -> np.ndarray:
    """The RDP curve on :data:`ORDERS` of one budget line: its ``rdp`` values, or ``rho * alpha``."""
    if line.get("rdp") is not None:
        values = np.asarray(line["rdp"], dtype=np.float64)
        if values.shape != (len(ORDERS),):
            raise InputError(f"a budget line's RDP curve has {values.size} orders, not {len(ORDERS)}")
        return values
    return float(line["rho"]) * np.asarray(ORDERS)


def rdp_epsilon(curve: np.ndarray, delta: float) -> float:
    """The epsilon at ``delta`` of an RDP curve on :data:`ORDERS` (Balle et al. 2020, Theorem 21)."""
    if not 0 < delta < 1:
        raise InputError(f"delta must be between 0 and 1 (exclusive), got {delta}")
    orders = np.asarray(ORDERS)
    eps = curve + np.log((orders - 1) / orders) - (math.log(delta) + np.log(orders)) / (orders - 1)
    return float(max(0.0, np.nanmin(eps)))


def composed(lines: Iterable[dict[str, Any]], delta: float) -> float:
    """epsilon at ``delta`` of budget lines run one after another: zCDP's tight conversion when every line is
    zCDP, else RDP on the grid. A line with its own ``delta`` (approximate zCDP: Gaussian thresholding) takes it
    from ``delta`` first (approximate zCDP composes by adding the deltas); infinite when they use all of it."""
    lines = list(lines)
    if not lines:
        return 0.0
    if not 0 < delta < 1:
        raise InputError(f"delta must be between 0 and 1 (exclusive), got {delta}")
    rest = delta - math.fsum(float(line.get("delta") or 0.0) for line in lines)
    if rest <= 0:
        return math.inf
    if all(line.get("rdp") is None for line in lines):
        rho = math.fsum(float(line["rho"]) for line in lines)
        return cdp_epsilon(rho, rest) if rho > 0 else 0.0
    return rdp_epsilon(np.sum([curve_of(line) for line in lines], axis=0), rest)
