"""The zCDP accountant against independent results: the exact privacy curve of the Gaussian mechanism (Balle &
Wang 2018, analytic Gaussian) that any valid conversion must bound from above, and the classical conversion of
Bun & Steinke 2016 that the tight one must never exceed."""

from __future__ import annotations

import itertools
import math

import pytest
from scipy.stats import norm

from synthgov.errors import InputError
from synthgov.privacy.accounting import (
    cdp_delta,
    cdp_epsilon,
    cdp_rho,
    check_epsilon_delta,
    composed_epsilon,
    exponential_rho,
    gaussian_rho,
    gaussian_sigma,
)


def exact_gaussian_delta(sigma: float, epsilon: float, sensitivity: float = 1.0) -> float:
    """Balle & Wang 2018, Theorem 8: the smallest delta of the Gaussian mechanism at epsilon."""
    a, b = sensitivity / (2 * sigma), epsilon * sigma / sensitivity
    return norm.cdf(a - b) - math.exp(epsilon) * norm.cdf(-a - b)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 5.0, 10.0])
@pytest.mark.parametrize("epsilon", [0.1, 0.5, 1.0, 2.0, 4.0])
def test_the_conversion_bounds_the_exact_gaussian_curve(sigma: float, epsilon: float) -> None:
    exact = exact_gaussian_delta(sigma, epsilon)
    converted = cdp_delta(gaussian_rho(1.0, sigma), epsilon)
    assert converted >= exact * (1 - 1e-9)  # a valid guarantee: never claims less than the truth
    if exact > 1e-12:
        assert converted <= 25 * exact  # and tight: within a small factor where delta matters


@pytest.mark.parametrize("rho", [1e-4, 0.01, 0.0306, 0.1, 1.0, 5.0])
@pytest.mark.parametrize("delta", [1e-9, 1e-5, 1e-3])
def test_never_worse_than_the_classical_conversion(rho: float, delta: float) -> None:
    classical = rho + 2 * math.sqrt(rho * math.log(1 / delta))
    epsilon = cdp_epsilon(rho, delta)
    assert 0 < epsilon <= classical + 1e-12
    assert cdp_delta(rho, epsilon) <= delta * (1 + 1e-9)  # the epsilon found does reach delta


@pytest.mark.parametrize(("epsilon", "delta"), [(0.1, 1e-5), (1.0, 1e-5), (3.0, 1e-5), (1.0, 1e-9), (10.0, 1e-6)])
def test_rho_and_epsilon_round_trip(epsilon: float, delta: float) -> None:
    rho = cdp_rho(epsilon, delta)
    assert cdp_epsilon(rho, delta) == pytest.approx(epsilon, rel=1e-6)
    # the Gaussian mechanism calibrated to that rho is at least as noisy as the exact calibration needs
    assert exact_gaussian_delta(gaussian_sigma(1.0, rho), epsilon) <= delta


def test_composition_adds_rho_and_beats_adding_epsilons() -> None:
    rho = cdp_rho(1.0, 1e-5)
    totals = [composed_epsilon([rho] * k, 1e-5) for k in range(1, 7)]
    assert totals[0] == pytest.approx(1.0, rel=1e-6)
    assert all(a < b for a, b in itertools.pairwise(totals))  # every release costs something
    assert all(total < k for k, total in enumerate(totals, start=1) if k > 1)  # less than basic composition
    # sqrt-k growth: k releases cost about what one release of k * rho costs
    assert composed_epsilon([rho] * 4, 1e-5) == pytest.approx(cdp_epsilon(4 * rho, 1e-5))


def test_mechanism_costs() -> None:
    assert gaussian_rho(1.0, gaussian_sigma(1.0, 0.25)) == pytest.approx(0.25)
    assert gaussian_rho(2.0, 2.0) == pytest.approx(0.5)
    assert exponential_rho(2.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("epsilon", "delta", "words"),
    [
        (0, 1e-5, "epsilon must be greater than 0"),
        (-1, 1e-5, "epsilon must be greater than 0"),
        (1, 0, "delta must be between 0 and 1"),
        (1, 1, "delta must be between 0 and 1"),
        (float("nan"), 1e-5, "epsilon must be a finite number"),
        ("1", 1e-5, "epsilon must be a finite number"),
        (True, 1e-5, "epsilon must be a finite number"),
    ],
)
def test_bad_budgets_are_clear_errors(epsilon: object, delta: object, words: str) -> None:
    with pytest.raises(InputError, match=words):
        check_epsilon_delta(epsilon, delta)
    with pytest.raises(InputError, match=words):
        cdp_rho(epsilon, delta)  # type: ignore[arg-type]
