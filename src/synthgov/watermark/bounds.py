"""The Chernoff minimisation shared by the detection tests: ``min_l (-l T + log M(l))`` over ``l >= 0``, for a
convex log moment generating function ``M`` given as ``objective(l) = -l T + log M(l)``."""

from __future__ import annotations

from collections.abc import Callable


def chernoff_minimum(objective: Callable[[float], float], start: float = 1.0, cap: float = 1e8) -> float:
    """log of the Chernoff bound (at most 0): bracket the minimum by doubling ``l`` from ``start`` (up to
    ``cap``), then a bounded scalar search."""
    from scipy import optimize

    upper = start
    while objective(upper * 2) < objective(upper) and upper < cap:
        upper *= 2
    best = optimize.minimize_scalar(objective, bounds=(0.0, upper * 2), method="bounded")
    return min(0.0, float(best.fun))
