"""The evidence a table gives for one plan, summed chunk by chunk: detection of a table too large for memory (a
partitioned release, read one partition at a time) gives exactly what detection of the whole table in memory
gives (the same contexts by label, the same sums; only the order of floating-point additions differs).

Per context (a carrier column's coarse bin, named ``column|bin``) the phasor sums; per carrier column and payload
bit the payload votes and their squares; per coarse context the cells on each grid value; per marked categorical
column the rows of each category; and, for the guard, the signed payload vote. :mod:`.detect` turns them into
its four tests (its docstring says which).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from synthgov.watermark import category_shares, prf
from synthgov.watermark.bounds import chernoff_log_p, target_share_log_p
from synthgov.watermark.cells import BinTally, bin_tallies, is_coarse, labelled_cells, payload_evidence, shares_of
from synthgov.watermark.plan import WatermarkPlan

logger = logging.getLogger(__name__)


class Evidence:
    """Sums of one plan's evidence over the chunks given to :meth:`add`; :meth:`result` is :func:`.detect.score`'s
    answer for all of them together."""

    def __init__(self, plan: WatermarkPlan, secret: bytes) -> None:
        self.plan, self.secret = plan, secret
        self.rows = 0
        self.index: dict[str, int] = {}  # context label -> position in the arrays below
        self.real = np.zeros(0)
        self.imag = np.zeros(0)
        self.context_bit = np.zeros(0, dtype=np.int64)
        self.context_column: list[str] = []
        bits = plan.payload_bits
        self.vote_sums: dict[str, np.ndarray] = {}  # column -> per payload bit, the sum of its cells' votes
        self.vote_squares: dict[str, np.ndarray] = {}  # ... and of their squares
        self.vote_cells: dict[str, int] = {}
        self.tallies: dict[str, dict[int, BinTally]] = {}  # coarse column -> its contexts' tallies
        self.categories: dict[str, dict[str, int]] = {}
        self.signed_sum, self.signed_cells = 0.0, 0
        self._bits = np.array([(plan.payload >> b) & 1 for b in range(bits)])

    def add(self, frame: pd.DataFrame) -> Evidence:
        """Add the evidence of ``frame`` (one chunk of the suspect table)."""
        plan = self.plan
        self.rows += len(frame)
        category_shares.add_tallies(self.categories, category_shares.tally(frame, plan.category_counts))
        cells, labels = labelled_cells(frame, plan, self.secret)
        if not cells:
            return self
        where = self._positions(labels)
        for c in cells:
            carrier = plan.carriers[c.column]
            phase = 2 * np.pi * (c.values - c.residue) / carrier.step
            at = where[c.context]
            size = len(self.index)
            self.real += np.bincount(at, weights=np.cos(phase), minlength=size)
            self.imag += np.bincount(at, weights=np.sin(phase), minlength=size)
            self.context_bit[at] = c.payload_bit
            votes = payload_evidence(c, carrier)
            width = plan.payload_bits
            self.vote_sums[c.column] = self.vote_sums.get(c.column, 0) + np.bincount(
                c.payload_bit, weights=votes, minlength=width
            )
            self.vote_squares[c.column] = self.vote_squares.get(c.column, 0) + np.bincount(
                c.payload_bit, weights=votes**2, minlength=width
            )
            self.vote_cells[c.column] = self.vote_cells.get(c.column, 0) + len(votes)
            signs = 1 - 2 * self._bits[c.payload_bit]
            self.signed_sum += float(np.sum(votes * signs))
            self.signed_cells += len(votes)
            if is_coarse(carrier):
                mine = self.tallies.setdefault(c.column, {})
                for b, tally in bin_tallies(c, carrier, self._bits).items():
                    mine[b] = mine[b].merged(tally) if b in mine else tally
        return self

    def merge(self, other: Evidence) -> Evidence:
        """Add ``other`` (the evidence of other chunks, for the same plan) into this one: the same sums as if its
        chunks had been added here."""
        self.rows += other.rows
        where = self._positions(list(other.index))
        order = np.array(list(other.index.values()), dtype=np.int64)
        self.real[where] += other.real[order]
        self.imag[where] += other.imag[order]
        self.context_bit[where] = other.context_bit[order]
        for column, sums in other.vote_sums.items():
            self.vote_sums[column] = self.vote_sums.get(column, 0) + sums
            self.vote_squares[column] = self.vote_squares.get(column, 0) + other.vote_squares[column]
            self.vote_cells[column] = self.vote_cells.get(column, 0) + other.vote_cells[column]
        for column, tallies in other.tallies.items():
            mine = self.tallies.setdefault(column, {})
            for b, tally in tallies.items():
                mine[b] = mine[b].merged(tally) if b in mine else tally
        category_shares.add_tallies(self.categories, other.categories)
        self.signed_sum += other.signed_sum
        self.signed_cells += other.signed_cells
        return self

    def _positions(self, labels: list[str]) -> np.ndarray:
        """Where each context label's sums are kept (new labels are added at the end)."""
        fresh = [label for label in dict.fromkeys(labels) if label not in self.index]
        for label in fresh:
            self.index[label] = len(self.index)
            self.context_column.append(label.rsplit("|", 1)[0])
        if fresh:
            grow = np.zeros(len(fresh))
            self.real, self.imag = np.r_[self.real, grow], np.r_[self.imag, grow]
            self.context_bit = np.r_[self.context_bit, np.zeros(len(fresh), dtype=np.int64)]
        return np.array([self.index[label] for label in labels], dtype=np.int64)

    def signed_vote(self) -> float:
        """Mean payload vote of the carrier cells, signed by the plan's payload bits (:func:`.detect.signed_vote`)."""
        return self.signed_sum / self.signed_cells if self.signed_cells else 0.0

    def result(self) -> dict[str, Any]:
        """``log_p`` (the four tests, Bonferroni), ``z``, ``contexts``, the ``payload`` read and its bits'
        ``margins``: :func:`.detect.score` of every chunk added."""
        plan = self.plan
        key = prf.subkey(self.secret, plan.id)
        # fourth test: the keyed shift of the category shares, which survives a new model fitted on the release
        log_p_shares = category_shares.log_p_of_tallies(self.categories, plan.category_counts, key)
        n_contexts = len(self.index)
        if not self.vote_cells:
            return {"log_p": min(0.0, np.log(4.0) + log_p_shares), "z": 0.0, "contexts": 0, "payload": None,
                    "margins": []}  # fmt: skip
        magnitude = np.hypot(self.real, self.imag)
        # weight of a context: a function of |C_j| only (independent of the key under the null, so the bound holds);
        # saturating, so that a large context counts as one well-measured phase, not as thousands of cells
        weight = magnitude / (magnitude + 2.0)
        angle = np.arctan2(self.imag, self.real)
        # presence: the doubled angle, blind to the payload's half-step shift (uniform under the null as well)
        total = float((weight * np.cos(2 * angle)).sum())
        z = total / np.sqrt(max(np.sum(weight**2) / 2, 1e-12))
        # third test: the plan's own payload is known (the registry holds it), so the undoubled angle can be
        # tested directly: bit-1 contexts are expected half a step off, cos(theta_j - pi b_j) near 1. Under the
        # null theta_j is uniform, so is theta_j - pi b_j: the same bound holds. The undoubled angle halves the
        # phase error of coarse grids (age in years) and quarters the log-attenuation of noise
        signs = 1.0 - 2.0 * ((plan.payload >> self.context_bit) & 1)
        known = weight * np.cos(angle) * signs
        log_p_known = chernoff_log_p(float(known.sum()), weight)
        # ... and per carrier column (Bonferroni over the columns): an attack that destroys one carrier (noise
        # or rounding coarser than fnlwgt's step) then leaves the others' evidence undiluted
        column_of = np.array(self.context_column)
        column_tests = [
            chernoff_log_p(float(known[column_of == name].sum()), weight[column_of == name])
            for name in plan.carriers
            if name in self.vote_cells
        ]
        # coarse carriers (age in years) also get the exact test of the share of cells on the target value
        column_tests += [target_share_log_p(shares_of(self.tallies[name])) for name in plan.carriers
                         if name in self.tallies]  # fmt: skip
        if len(column_tests) > 1:
            log_p_known = min(log_p_known, min(column_tests) + np.log(len(column_tests)))
        votes = np.bincount(self.context_bit, weights=weight * np.cos(angle), minlength=plan.payload_bits)
        # second test, for degraded tables (noise doubles in the doubled angle): the bit groups' votes in absolute
        # value, sum_b |V_b|; E exp(l |V_b|) <= 2 prod I0(l w_j), so its bound carries 2^(groups seen)
        groups = int(np.count_nonzero(np.bincount(self.context_bit, minlength=plan.payload_bits)))
        log_p_votes = chernoff_log_p(float(np.abs(votes).sum()), weight) + groups * np.log(2.0)
        bit_votes, spread = self._payload_votes()
        payload = int(sum(1 << b for b in range(plan.payload_bits) if bit_votes[b] < 0))
        margins = [float(abs(v) / sd) if sd > 0 else 0.0 for v, sd in zip(bit_votes, spread, strict=True)]
        best = min(chernoff_log_p(total, weight), log_p_votes, log_p_known, log_p_shares)
        return {
            # any of the tests may speak: Bonferroni over them (the known-payload test carries its columns')
            "log_p": min(0.0, np.log(4.0) + best),
            "z": float(z),
            "contexts": int(n_contexts),
            "payload": payload,
            "margins": margins,
        }

    def _payload_votes(self) -> tuple[np.ndarray, np.ndarray]:
        """The payload read once the mark is present: every cell votes for its bit (see cells.payload_evidence),
        large contexts in full, as their cells are what the embedding moved. A column's votes are weighted by what
        a vote of that column tells (mean over variance, the weight that maximises the margin of a sum): a
        fine-grid cosine says more than a coarse-grid target indicator (Adult: 0.65 / 0.18 against 0.42 / 0.62).
        The mean is estimated blind, from the column's own bit sums (|sum| per bit over the cells), so an attack
        that blurs one column lowers its weight."""
        width = self.plan.payload_bits
        bit_votes, squares = np.zeros(width), np.zeros(width)
        for column, sums in self.vote_sums.items():
            cells = self.vote_cells[column]
            mean = np.abs(sums).sum() / max(cells, 1)
            variance = max(float(self.vote_squares[column].sum()) / max(cells, 1), 1e-12)
            factor = mean / variance
            bit_votes += factor * sums
            squares += factor**2 * self.vote_squares[column]
        return bit_votes, np.sqrt(squares)
