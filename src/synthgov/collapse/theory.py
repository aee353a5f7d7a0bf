"""Closed forms of collapse under the ``replace`` regime (``shared/research/collapse_bias_values.md`` §2.2), the
regression targets the laboratory's recursion is tested against.

- A Gaussian refit by maximum likelihood to n samples per generation: ``s2_t = s2_{t-1} chi2_{n-1} / n``, so
  ``E[log s2_t] = t (digamma((n-1)/2) - log(n/2))`` and the median variance is about ``exp(-2t/n)``.
- A category of frequency p under Wright-Fisher drift is lost with probability ``1 - p``, after about
  ``-2 n p ln p / (1 - p)`` generations (given that it is lost).
"""

from __future__ import annotations

import math

from scipy.special import digamma


def gaussian_log_variance_drift(n: int, generations: int) -> float:
    """E[log(s2_t / s2_0)] after ``generations`` maximum-likelihood refits to ``n`` samples each."""
    return generations * (float(digamma((n - 1) / 2)) - math.log(n / 2))


def gaussian_median_variance(n: int, generations: int) -> float:
    """The median variance ratio after ``generations`` refits (log-variance is a sum of iid terms)."""
    return math.exp(gaussian_log_variance_drift(n, generations))


def category_loss_time(p: float, n: int) -> float:
    """Expected generations until a category of frequency ``p`` dies out among ``n`` rows, given that it does."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    return -2 * n * p * math.log(p) / (1 - p)
