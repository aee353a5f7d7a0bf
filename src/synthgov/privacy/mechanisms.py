"""The two mechanisms of the marginal-based DP generators, each with its zCDP cost (Bun & Steinke 2016;
Cesar & Rogers 2021 for the exponential mechanism's bounded-range cost).

* :func:`gaussian_counts`: a table of counts plus Gaussian noise. Adding or removing one row changes one cell by
  one, so the L2 sensitivity of one table is 1 and ``k`` tables measured with the same sigma cost
  ``k / (2 sigma^2)``.
* :func:`exponential_choice`: one of several candidates by the exponential mechanism (Gumbel-max form), the
  scores having sensitivity ``sensitivity``; it costs ``epsilon^2 / 8``.
"""

from __future__ import annotations

import numpy as np

from synthgov.privacy.accounting import exponential_rho, gaussian_rho


def gaussian_counts(counts: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``counts`` (float) plus independent N(0, sigma^2) noise in every cell."""
    return np.asarray(counts, dtype=np.float64) + rng.normal(0.0, sigma, size=np.shape(counts))


def gaussian_cost(tables: int, sigma: float) -> float:
    """zCDP cost of measuring ``tables`` count tables (sensitivity 1 each) with noise ``sigma``."""
    return tables * gaussian_rho(1.0, sigma)


def sigma_for(tables: int, rho: float) -> float:
    """The noise that spends exactly ``rho`` on ``tables`` count tables."""
    return float(np.sqrt(tables / (2.0 * rho)))


def exponential_choice(scores: np.ndarray, epsilon: float, sensitivity: float, rng: np.random.Generator) -> int:
    """Index chosen with probability proportional to exp(epsilon * score / (2 * sensitivity))."""
    logits = epsilon * np.asarray(scores, dtype=np.float64) / (2.0 * sensitivity)
    return int(np.argmax(logits + rng.gumbel(size=logits.shape)))


def exponential_cost(epsilon: float) -> float:
    return exponential_rho(epsilon)
