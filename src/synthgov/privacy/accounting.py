"""Zero-concentrated differential privacy (zCDP, Bun & Steinke 2016): the accountant of synthgov's DP releases.

A mechanism that is rho-zCDP composes by addition (rho_1 + rho_2), and rho-zCDP implies (epsilon, delta)-DP for
every delta > 0. The conversion here is the tight one of Canonne, Kamath & Steinke 2020 (Proposition 12, as used by
MST and AIM): delta(rho, epsilon) = inf over alpha > 1 of
exp((alpha - 1)(alpha rho - epsilon)) / (alpha - 1) * (1 - 1/alpha)^alpha, which never gives a larger epsilon than
the classical rho + 2 sqrt(rho log(1/delta)) (Bun & Steinke 2016, Proposition 1.3).

Building blocks: the Gaussian mechanism with L2 sensitivity D and noise sd sigma is D^2 / (2 sigma^2)-zCDP; the
exponential mechanism at epsilon is epsilon^2 / 8-zCDP (Cesar & Rogers 2021, bounded range).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

ACCOUNTANT = "zCDP (Bun & Steinke 2016); (epsilon, delta) by the conversion of Canonne, Kamath & Steinke 2020"
_SEARCH_STEPS = 200  # bisection steps: far below float resolution


def check_epsilon_delta(epsilon: object, delta: object) -> tuple[float, float]:
    """``(epsilon, delta)`` as floats when ``epsilon > 0`` and ``0 < delta < 1``; otherwise one clear error."""
    for name, value in (("epsilon", epsilon), ("delta", delta)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"{name} must be a finite number, got {value!r}")
    if not epsilon > 0:  # type: ignore[operator]
        raise InputError(f"epsilon must be greater than 0, got {epsilon}")
    if not 0 < delta < 1:  # type: ignore[operator]
        raise InputError(f"delta must be between 0 and 1 (exclusive), got {delta}")
    return float(epsilon), float(delta)  # type: ignore[arg-type]


def cdp_delta(rho: float, epsilon: float) -> float:
    """The smallest delta for which rho-zCDP implies (epsilon, delta)-DP (by the conversion above)."""
    if rho < 0 or epsilon < 0:
        raise InputError(f"rho and epsilon must be non-negative, got rho={rho}, epsilon={epsilon}")
    if rho == 0:
        return 0.0
    # The bound is convex in alpha; its derivative's sign is that of (2 alpha - 1) rho - epsilon + log(1 - 1/alpha).
    lo, hi = 1.01, (epsilon + 1) / (2 * rho) + 2
    for _ in range(_SEARCH_STEPS):
        alpha = (lo + hi) / 2
        if (2 * alpha - 1) * rho - epsilon + math.log1p(-1 / alpha) < 0:
            lo = alpha
        else:
            hi = alpha
    alpha = (lo + hi) / 2
    log_delta = (alpha - 1) * (alpha * rho - epsilon) + alpha * math.log1p(-1 / alpha) - math.log(alpha - 1)
    return min(1.0, math.exp(min(log_delta, 0.0)))


def cdp_epsilon(rho: float, delta: float) -> float:
    """The smallest epsilon for which rho-zCDP implies (epsilon, delta)-DP."""
    if not 0 < delta < 1:
        raise InputError(f"delta must be between 0 and 1 (exclusive), got {delta}")
    if rho == 0:
        return 0.0
    classical = rho + 2 * math.sqrt(rho * math.log(1 / delta))  # always enough
    return _bisect(0.0, classical, lambda epsilon: cdp_delta(rho, epsilon) <= delta, holds_below=False)


def cdp_rho(epsilon: float, delta: float) -> float:
    """The largest rho for which rho-zCDP implies (epsilon, delta)-DP: the budget a release of (epsilon, delta)
    may spend."""
    epsilon, delta = check_epsilon_delta(epsilon, delta)
    return _bisect(0.0, epsilon + 1, lambda rho: cdp_delta(rho, epsilon) <= delta, holds_below=True)


def _bisect(lo: float, hi: float, holds: Callable[[float], bool], *, holds_below: bool) -> float:
    """The end of ``[lo, hi]`` nearest the boundary of a monotone condition at which it still holds:
    ``holds_below``: it holds up to the boundary (the largest such point); else from it on (the smallest)."""
    for _ in range(_SEARCH_STEPS):
        mid = (lo + hi) / 2
        if holds(mid) == holds_below:
            lo = mid
        else:
            hi = mid
    return lo if holds_below else hi


def gaussian_rho(sensitivity: float, sigma: float) -> float:
    """rho of the Gaussian mechanism with L2 ``sensitivity`` and noise standard deviation ``sigma``."""
    return sensitivity**2 / (2 * sigma**2)


def gaussian_sigma(sensitivity: float, rho: float) -> float:
    """The noise standard deviation that makes the Gaussian mechanism rho-zCDP."""
    if not rho > 0:
        raise InputError(f"rho must be greater than 0, got {rho}")
    return sensitivity / math.sqrt(2 * rho)


def exponential_rho(epsilon: float) -> float:
    """rho of the exponential mechanism (or permute-and-flip) at ``epsilon``."""
    return epsilon**2 / 8


def composed_epsilon(rhos: list[float], delta: float) -> float:
    """epsilon at ``delta`` of mechanisms run one after another on the same data (zCDP: the rhos add up)."""
    return cdp_epsilon(math.fsum(rhos), delta)


def split_in_thirds(
    epsilon: object, delta: object, columns: int, parts: tuple[tuple[str, str], tuple[str, str]]
) -> list[dict[str, object]]:
    """The itemised budget of a marginal-based DP generator: ``cdp_rho(epsilon, delta)`` in three equal parts, the
    Gaussian one-way marginals first and the two ``parts`` (name, mechanism) after; all of it to the one-way
    marginals for a single column. The lines add up to the total exactly."""
    epsilon_, delta_ = check_epsilon_delta(epsilon, delta)
    rho = cdp_rho(epsilon_, delta_)
    if columns < 2:
        return [{"part": "one-way marginals", "mechanism": "Gaussian", "rho": rho}]
    (second, second_mechanism), (third, third_mechanism) = parts
    return [
        {"part": "one-way marginals", "mechanism": "Gaussian", "rho": rho / 3},
        {"part": second, "mechanism": second_mechanism, "rho": rho / 3},
        {"part": third, "mechanism": third_mechanism, "rho": rho - 2 * (rho / 3)},
    ]
