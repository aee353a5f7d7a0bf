"""Detection: a blind test of a suspect table against the plans a keystore holds.

Per context j (see :mod:`.cells`), the cells' phases ``2 pi (x - residue) / step`` are summed as unit
phasors: ``C_j = |C_j| exp(i theta_j)``. A marked table has ``theta_j`` near 0. Under the null (real data,
another key, a table never marked with this key), the keyed residue of each distinct context is uniform and
independent of the data, so ``theta_j`` is uniform and independent of ``|C_j|``, whatever the values are
(discrete, repeated, rounded): duplicates only make ``|C_j|`` large, never the evidence. The statistic is
``T = sum_j w_j cos(2 theta_j)`` (doubled, so that a payload bit's half-step shift does not matter) with
weights ``w_j = |C_j| / (|C_j| + 2)`` (a function of the magnitude only);
its p-value is the Chernoff bound ``min_lambda exp(-lambda T) prod_j I0(lambda w_j)`` (``I0`` is the moment
generating function of ``cos theta``): valid as a bound, with no distributional assumption on the data.
Several plans tested -> Bonferroni. Payload bits: the sign of ``sum_j w_j cos(theta_j)`` over each bit's
contexts. A second statistic, ``sum_b |sum_{j in b} w_j cos(theta_j)|`` (bound times 2^bits seen), keeps the
power of the undoubled angle on noisy or rounded tables. A third, ``sum_j w_j cos(theta_j - pi b_j)`` with the
plan's own payload bits ``b_j`` (the registry holds them), tests the undoubled angle at no 2^bits cost. A
fourth, the keyed shift of the category shares (:mod:`.category_shares`), is what survives a new model fitted
on the release. The p-value is four times the smallest of the four bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from synthgov.watermark import category_shares, prf
from synthgov.watermark.bounds import chernoff_minimum
from synthgov.watermark.cells import TargetShares, is_coarse, payload_evidence, table_cells, target_shares
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
    bits_agreeing: int | None = None  # payload bits read from the rows that equal the matched plan's payload
    payload_bits: int = 0

    @property
    def payload_hex(self) -> str | None:
        return None if self.payload is None else f"0x{self.payload:08x}"

    def payload_line(self) -> str:
        """What the rows say about the payload, with its confidence (for people)."""
        if self.bits_agreeing is None:
            return "payload: not read (no mark found)"
        margin = f"weakest bit margin {min(self.bit_margins):.1f} sd" if self.bit_margins else "no carrier cells"
        if self.payload is not None:
            return f"payload {self.payload_hex}: all {self.payload_bits} bits read from the rows agree ({margin})"
        return (
            f"payload: not readable from these rows ({self.bits_agreeing} of {self.payload_bits} bits agree with the "
            f"matched plan's; {margin}); a misread payload is never reported"
        )

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
            "payload_bits_agreeing": self.bits_agreeing,
            "payload_bits": self.payload_bits,
        }


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


def score(frame: pd.DataFrame, plan: WatermarkPlan, secret: bytes) -> dict[str, Any]:
    cells, n_contexts = table_cells(frame, plan, secret)
    # fourth test: the keyed shift of the category shares, which survives a new model fitted on the release
    log_p_shares = category_shares.log_p(frame, plan.category_counts, prf.subkey(secret, plan.id))
    if not cells:
        return {"log_p": min(0.0, np.log(4.0) + log_p_shares), "z": 0.0, "contexts": 0, "payload": None, "margins": []}
    context = np.concatenate([c.context for c in cells])
    phase = np.concatenate([2 * np.pi * (c.values - c.residue) / plan.carriers[c.column].step for c in cells])
    bit = np.concatenate([c.payload_bit for c in cells])
    real = np.bincount(context, weights=np.cos(phase), minlength=n_contexts)
    imag = np.bincount(context, weights=np.sin(phase), minlength=n_contexts)
    ctx_bit = np.zeros(n_contexts, dtype=np.int64)
    ctx_bit[context] = bit
    magnitude = np.hypot(real, imag)
    # weight of a context: a function of |C_j| only (independent of the key under the null, so the bound holds);
    # saturating, so that a large context counts as one well-measured phase, not as thousands of cells
    weight = magnitude / (magnitude + 2.0)
    angle = np.arctan2(imag, real)
    # presence: the doubled angle, blind to the payload's half-step shift (uniform under the null as well)
    evidence = weight * np.cos(2 * angle)
    total = float(evidence.sum())
    z = total / np.sqrt(max(np.sum(weight**2) / 2, 1e-12))
    # third test: the plan's own payload is known (the registry holds it), so the undoubled angle can be
    # tested directly: bit-1 contexts are expected half a step off, cos(theta_j - pi b_j) near 1. Under the null
    # theta_j is uniform, so is theta_j - pi b_j: the same bound holds. The undoubled angle halves the phase
    # error of coarse grids (age in years) and quarters the log-attenuation of noise
    signs = 1.0 - 2.0 * ((plan.payload >> ctx_bit) & 1)
    known = weight * np.cos(angle) * signs
    log_p_known = chernoff_log_p(float(known.sum()), weight)
    # ... and per carrier column (Bonferroni over the columns): an attack that destroys one carrier (noise
    # or rounding coarser than fnlwgt's step) then leaves the others' evidence undiluted
    ctx_column = np.zeros(n_contexts, dtype=np.int64)
    for k, c in enumerate(cells):
        ctx_column[c.context] = k
    column_tests = [
        chernoff_log_p(float(known[ctx_column == k].sum()), weight[ctx_column == k]) for k in range(len(cells))
    ]
    # coarse carriers (age in years) also get the exact test of the share of cells on the target value
    bits = np.array([(plan.payload >> b) & 1 for b in range(plan.payload_bits)])
    column_tests += [
        target_share_log_p(target_shares(c, plan.carriers[c.column], bits))
        for c in cells
        if is_coarse(plan.carriers[c.column])
    ]
    if len(column_tests) > 1:
        log_p_known = min(log_p_known, min(column_tests) + np.log(len(column_tests)))
    votes = np.bincount(ctx_bit, weights=weight * np.cos(angle), minlength=plan.payload_bits)
    # second test, for degraded tables (noise doubles in the doubled angle): the bit groups' votes in absolute
    # value, sum_b |V_b|; E exp(l |V_b|) <= 2 prod I0(l w_j), so its bound carries 2^(groups seen)
    groups = int(np.count_nonzero(np.bincount(ctx_bit, minlength=plan.payload_bits)))
    log_p_votes = chernoff_log_p(float(np.abs(votes).sum()), weight) + groups * np.log(2.0)
    # the payload, read once the mark is present: every cell votes for its bit (see cells.payload_evidence);
    # large contexts count in full here, as their cells are what the embedding moved
    evidence_cells = np.concatenate([_weighted_votes(c, plan) for c in cells])
    bit_votes = np.bincount(bit, weights=evidence_cells, minlength=plan.payload_bits)
    spread = np.sqrt(np.bincount(bit, weights=evidence_cells**2, minlength=plan.payload_bits))
    payload = int(sum(1 << b for b in range(plan.payload_bits) if bit_votes[b] < 0))
    margins = [float(abs(v) / sd) if sd > 0 else 0.0 for v, sd in zip(bit_votes, spread, strict=True)]
    return {
        # any of the tests may speak: Bonferroni over them (the known-payload test already carries its columns')
        "log_p": min(0.0, np.log(4.0) + min(chernoff_log_p(total, weight), log_p_votes, log_p_known, log_p_shares)),
        "z": float(z),
        "contexts": int(n_contexts),
        "payload": payload,
        "margins": margins,
    }


def _weighted_votes(c, plan: WatermarkPlan) -> np.ndarray:
    """A column's payload votes, weighted by what a vote of that column tells (mean over variance, the weight
    that maximises the margin of a sum): a fine-grid cosine says more than a coarse-grid target indicator
    (Adult: 0.65 / 0.18 against 0.42 / 0.62). The mean is estimated blind, from the column's own bit sums
    (|sum| per bit over the cells), so an attack that blurs one column lowers its weight."""
    votes = payload_evidence(c, plan.carriers[c.column])
    sums = np.bincount(c.payload_bit, weights=votes, minlength=plan.payload_bits)
    mean = np.abs(sums).sum() / max(len(votes), 1)
    variance = max(float(np.mean(votes**2)), 1e-12)
    return votes * (mean / variance)


DETECTION_THRESHOLD = 1e-6  # a mark counts as present at p <= this (calibrated: docs/watermark.md)


def detect(frame: pd.DataFrame, plans: list[WatermarkPlan], secret: bytes, key_id: str | None) -> Detection:
    """Test ``frame`` against every plan (of one key); the p-value is Bonferroni-corrected over the plans."""
    if not isinstance(frame, pd.DataFrame):
        from synthgov.errors import InputError

        raise InputError(f"detect needs a table (pandas DataFrame), got {type(frame).__name__}")
    best: tuple[float, WatermarkPlan | None, dict[str, Any]] = (0.0, None, {})
    for plan in plans:
        result = score(frame, plan, secret)
        if best[1] is None or result["log_p"] < best[0]:
            best = (result["log_p"], plan, result)
    log_p, plan, result = best
    p = float(min(1.0, np.exp(log_p) * max(1, len(plans))))
    found = plan is not None and p <= 1e-3
    decoded = result.get("payload") if found else None
    agreeing = None
    if found and decoded is not None:
        agreeing = plan.payload_bits - int(bin((decoded ^ plan.payload) & ((1 << plan.payload_bits) - 1)).count("1"))
    return Detection(
        p_value=p,
        z=float(result.get("z", 0.0)),
        key_id=key_id if found else None,
        # the registry's payload is the error-detecting reference: a read with any bit wrong is not reported
        payload=decoded if found and decoded == plan.payload else None,
        rows=len(frame),
        contexts=int(result.get("contexts", 0)),
        release_id=plan.release_id if found and plan else None,
        # each copy (recipient) has a plan of its own, with its own keyed residues: the plan that the rows match
        # at the detection threshold names the copy, whether or not the 32 payload bits can be read back
        recipient=plan.recipient if plan is not None and p <= DETECTION_THRESHOLD else None,
        plans_tested=len(plans),
        bit_margins=result.get("margins", []) if found else [],
        bits_agreeing=agreeing,
        payload_bits=plan.payload_bits if plan is not None else 0,
    )


def signed_vote(frame: pd.DataFrame, plan: WatermarkPlan, secret: bytes) -> float:
    """Mean payload vote of the carrier cells of ``frame``, signed by the plan's own payload bits: about
    ``plan.coherence`` on the marked release, about 0 on rows the plan did not mark (the keyed targets are
    independent of them), so the ratio estimates the share of marked rows in a mixed table."""
    cells, _ = table_cells(frame, plan, secret)
    if not cells:
        return 0.0
    bits = np.array([(plan.payload >> b) & 1 for b in range(plan.payload_bits)])
    votes = [payload_evidence(c, plan.carriers[c.column]) * (1 - 2 * bits[c.payload_bit]) for c in cells]
    return float(np.mean(np.concatenate(votes)))
