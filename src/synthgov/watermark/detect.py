"""Detection: a blind test of a suspect table against the plans a keystore holds.

Per context j (see :mod:`.cells`), the cells' phases ``2 pi (x - residue) / step`` are summed as unit
phasors: ``C_j``. A marked table has every phasor near 0, so ``T = sum_j Re C_j`` is large. Under the null
(real data, another key, a table never marked with this key), the keyed residue of each distinct context is
uniform and independent of the data, so ``Re C_j = |C_j| cos(theta_j)`` with ``theta_j`` uniform, whatever
the values are (discrete, repeated, rounded): duplicates only make ``|C_j|`` large, never the evidence. The
p-value is the Chernoff bound ``min_lambda exp(-lambda T) prod_j I0(lambda |C_j|)`` (``I0`` is the moment
generating function of ``cos theta``): exact as a bound, with no distributional assumption on the data.
Several plans tested -> Bonferroni. Payload bits: the sign of the summed ``Re C_j`` of each bit's contexts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from synthgov.watermark.cells import table_cells
from synthgov.watermark.plan import WatermarkPlan


@dataclass
class Detection:
    p_value: float
    z: float
    key_id: str | None
    payload: int | None
    rows: int
    contexts: int
    release_id: str | None = None
    recipient: str | None = None
    plans_tested: int = 0
    bit_margins: list[float] = field(default_factory=list)

    @property
    def payload_hex(self) -> str | None:
        return None if self.payload is None else f"0x{self.payload:08x}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "p_value": self.p_value,
            "z": self.z,
            "key_id": self.key_id,
            "payload": self.payload_hex,
            "recipient": self.recipient,
            "release_id": self.release_id,
            "rows": self.rows,
            "contexts": self.contexts,
            "plans_tested": self.plans_tested,
            "min_bit_margin": min(self.bit_margins) if self.bit_margins else None,
        }


def chernoff_log_p(total: float, magnitudes: np.ndarray) -> float:
    """log of min_l exp(-l T) prod I0(l A_j): a bound on P(sum A_j cos(theta_j) >= T), theta_j uniform."""
    a = magnitudes[magnitudes > 0]
    if total <= 0 or len(a) == 0:
        return 0.0

    def objective(lam: float) -> float:
        x = lam * a
        return float(-lam * total + np.sum(np.log(special.i0e(x)) + x))

    upper = 1.0
    while objective(upper * 2) < objective(upper) and upper < 1e8:
        upper *= 2
    best = optimize.minimize_scalar(objective, bounds=(0.0, upper * 2), method="bounded")
    return min(0.0, float(best.fun))


def score(frame: pd.DataFrame, plan: WatermarkPlan, secret: bytes) -> dict[str, Any]:
    cells, n_contexts = table_cells(frame, plan, secret)
    if not cells:
        return {"log_p": 0.0, "z": 0.0, "contexts": 0, "payload": None, "margins": []}
    context = np.concatenate([c.context for c in cells])
    phase = np.concatenate([2 * np.pi * (c.values - c.residue) / plan.carriers[c.column].step for c in cells])
    bit = np.concatenate([c.payload_bit for c in cells])
    real = np.bincount(context, weights=np.cos(phase), minlength=n_contexts)
    imag = np.bincount(context, weights=np.sin(phase), minlength=n_contexts)
    ctx_bit = np.full(n_contexts, -1, dtype=np.int64)
    ctx_bit[context] = bit
    magnitude = np.hypot(real, imag)
    presence = ctx_bit < 0
    total, mags = float(real[presence].sum()), magnitude[presence]
    z = total / np.sqrt(max(np.sum(mags**2) / 2, 1e-12))
    sums = np.bincount(ctx_bit[~presence], weights=real[~presence], minlength=plan.payload_bits)
    scale = np.sqrt(np.bincount(ctx_bit[~presence], weights=magnitude[~presence] ** 2, minlength=plan.payload_bits) / 2)
    payload = int(sum(1 << b for b in range(plan.payload_bits) if sums[b] < 0))
    margins = [float(abs(s) / sc) if sc > 0 else 0.0 for s, sc in zip(sums, scale, strict=True)]
    return {
        "log_p": chernoff_log_p(total, mags),
        "z": float(z),
        "contexts": int(presence.sum()),
        "payload": payload,
        "margins": margins,
    }


def detect(frame: pd.DataFrame, plans: list[WatermarkPlan], secret: bytes, key_id: str | None) -> Detection:
    """Test ``frame`` against every plan (of one key); the p-value is Bonferroni-corrected over the plans."""
    best: tuple[float, WatermarkPlan | None, dict[str, Any]] = (0.0, None, {})
    for plan in plans:
        result = score(frame, plan, secret)
        if best[1] is None or result["log_p"] < best[0]:
            best = (result["log_p"], plan, result)
    log_p, plan, result = best
    p = float(min(1.0, np.exp(log_p) * max(1, len(plans))))
    found = plan is not None and p <= 1e-3
    return Detection(
        p_value=p,
        z=float(result.get("z", 0.0)),
        key_id=key_id if found else None,
        payload=result.get("payload") if found else None,
        rows=len(frame),
        contexts=int(result.get("contexts", 0)),
        release_id=plan.release_id if found and plan else None,
        recipient=plan.recipient if found and plan and result.get("payload") == plan.payload else None,
        plans_tested=len(plans),
        bit_margins=result.get("margins", []) if found else [],
    )
