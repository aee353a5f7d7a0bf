"""The privacy accounting of DP-SGD (Abadi et al. 2016): Poisson-subsampled Gaussian steps in RDP.

Each training step includes every row independently with probability ``sample_rate`` (Poisson sampling),
clips each row's gradient to L2 norm ``clip`` and adds Gaussian noise of sd ``noise_multiplier * clip`` to their
sum. Its RDP curve is the subsampled Gaussian bound of Mironov, Talwar & Zhang 2019, computed by opacus' RDP
accountant (``opacus.accountants.analysis.rdp.compute_rdp``; the ``synthgov[dp]`` extra), for ``steps`` steps.

The sample rate is a parameter, never ``batch / rows``: a rate computed from the row count would make the
mechanism depend on a statistic of the data outside the budget. The noise multiplier is calibrated, before any
data is read, so that the release's lines (a zCDP part for the one-way marginals, this RDP part) compose to the
declared (epsilon, delta) (:func:`.rdp.composed`).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from synthgov.errors import InputError
from synthgov.privacy import rdp

logger = logging.getLogger(__name__)

MECHANISM = "DP-SGD (Abadi et al. 2016): Poisson-subsampled Gaussian steps with per-row gradient clipping"
_SEARCH_STEPS = 60


def _opacus_rdp() -> Any:
    try:
        from opacus.accountants.analysis.rdp import compute_rdp
    except ImportError:
        raise InputError(
            "DP-SGD's accountant needs opacus: pip install 'synthgov[dp]' (or pip install opacus)"
        ) from None
    return compute_rdp


def steps_for(epochs: int, sample_rate: float) -> int:
    """Training steps of ``epochs`` expected passes over the rows at ``sample_rate``."""
    return max(1, math.ceil(epochs / sample_rate))


def sgd_curve(noise_multiplier: float, sample_rate: float, steps: int) -> np.ndarray:
    """The RDP curve on :data:`.rdp.ORDERS` of ``steps`` subsampled Gaussian steps."""
    compute_rdp = _opacus_rdp()
    curve = compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=steps, orders=list(rdp.ORDERS))
    return np.asarray(curve, dtype=np.float64)


def sgd_line(noise_multiplier: float, sample_rate: float, steps: int, clip: float) -> dict[str, Any]:
    return {
        "part": "training (DP-SGD)",
        "mechanism": (
            f"subsampled Gaussian: {steps} steps, Poisson rate {sample_rate:g}, noise multiplier "
            f"{noise_multiplier:.4g}, clip {clip:g}"
        ),
        "rho": None,
        "rdp": [float(v) for v in sgd_curve(noise_multiplier, sample_rate, steps)],
        "noise_multiplier": float(noise_multiplier),
        "sample_rate": float(sample_rate),
        "steps": int(steps),
        "clip": float(clip),
    }


def calibrate(epsilon: float, delta: float, fixed: list[dict[str, Any]], sample_rate: float, steps: int) -> float:
    """The smallest noise multiplier (to 0.1%) for which ``fixed`` lines plus ``steps`` DP-SGD steps compose to at
    most (epsilon, delta)."""
    fixed_curve = np.sum([rdp.curve_of(line) for line in fixed], axis=0) if fixed else 0.0
    rest = delta - math.fsum(float(line.get("delta") or 0.0) for line in fixed)  # approximate lines' deltas first
    if rest <= 0:
        raise InputError(f"the other parts of the budget use all of delta {delta:g}")

    def fits(sigma: float) -> bool:
        return rdp.rdp_epsilon(fixed_curve + sgd_curve(sigma, sample_rate, steps), rest) <= epsilon

    lo, hi = 0.05, 1.0
    while not fits(hi):
        lo, hi = hi, hi * 2
        if hi > 1e4:
            raise InputError(
                f"epsilon {epsilon:g} is too small for {steps} DP-SGD steps at sample rate {sample_rate:g}: the noise "
                "would drown every gradient; give a larger epsilon, fewer dp_epochs or a smaller dp_sample_rate"
            )
    if fits(lo):
        return lo
    for _ in range(_SEARCH_STEPS):
        if hi / lo < 1.001:
            break
        mid = math.sqrt(lo * hi)
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi
