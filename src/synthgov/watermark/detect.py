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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgov.watermark.evidence import Evidence
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


def score(frame: pd.DataFrame, plan: WatermarkPlan, secret: bytes) -> dict[str, Any]:
    """The four tests of ``frame`` against ``plan`` (see the module docstring); for a table read in chunks, add
    each to one :class:`~synthgov.watermark.evidence.Evidence` instead."""
    return Evidence(plan, secret).add(frame).result()


DETECTION_THRESHOLD = 1e-6  # a mark counts as present at p <= this (calibrated: docs/watermark.md)


def detect(frame: pd.DataFrame, plans: list[WatermarkPlan], secret: bytes, key_id: str | None) -> Detection:
    """Test ``frame`` against every plan (of one key); the p-value is Bonferroni-corrected over the plans."""
    if not isinstance(frame, pd.DataFrame):
        from synthgov.errors import InputError

        raise InputError(f"detect needs a table (pandas DataFrame), got {type(frame).__name__}")
    return detect_chunks([frame], plans, secret, key_id)


def detect_chunks(
    chunks: Iterable[pd.DataFrame], plans: list[WatermarkPlan], secret: bytes, key_id: str | None
) -> Detection:
    """:func:`detect` of the table made of ``chunks`` (read one at a time: a partitioned release, a large file),
    with exactly the answer of the whole table in memory (:mod:`.evidence`)."""
    evidence = [Evidence(plan, secret) for plan in plans]
    rows = 0
    for chunk in chunks:
        rows += len(chunk)
        for one in evidence:
            one.add(chunk)
    return decide(evidence, key_id, rows)


def decide(evidence: list[Evidence], key_id: str | None, rows: int | None = None) -> Detection:
    """The detection from each plan's evidence (of the whole suspect table): the best plan, Bonferroni over the
    plans, the payload read when every bit agrees with the plan's."""
    rows = rows if rows is not None else (evidence[0].rows if evidence else 0)
    best: tuple[float, WatermarkPlan | None, dict[str, Any]] = (0.0, None, {})
    for one in evidence:
        result = one.result()
        if best[1] is None or result["log_p"] < best[0]:
            best = (result["log_p"], one.plan, result)
    log_p, plan, result = best
    p = float(min(1.0, np.exp(log_p) * max(1, len(evidence))))
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
        rows=rows,
        contexts=int(result.get("contexts", 0)),
        release_id=plan.release_id if found and plan else None,
        # each copy (recipient) has a plan of its own, with its own keyed residues: the plan that the rows match
        # at the detection threshold names the copy, whether or not the 32 payload bits can be read back
        recipient=plan.recipient if plan is not None and p <= DETECTION_THRESHOLD else None,
        plans_tested=len(evidence),
        bit_margins=result.get("margins", []) if found else [],
        bits_agreeing=agreeing,
        payload_bits=plan.payload_bits if plan is not None else 0,
    )


def signed_vote(frame: pd.DataFrame, plan: WatermarkPlan, secret: bytes) -> float:
    """Mean payload vote of the carrier cells of ``frame``, signed by the plan's own payload bits: about
    ``plan.coherence`` on the marked release, about 0 on rows the plan did not mark (the keyed targets are
    independent of them), so the ratio estimates the share of marked rows in a mixed table."""
    return Evidence(plan, secret).add(frame).signed_vote()
