"""The evidence cells of a table under a plan: for every carrier cell that is not a point mass, its context
(column, coarse bin of its own value, a keyed partner column and the partner's value or coarse bin) and that
context's keyed dither, role (presence or payload) and payload bit. Shared by embedding and detection, so both
see exactly the same contexts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthgov.watermark import prf
from synthgov.watermark.plan import WatermarkPlan


@dataclass
class Cells:
    column: str
    rows: np.ndarray  # row positions
    values: np.ndarray  # float values
    own_bin: np.ndarray
    context: np.ndarray  # context index (into the table-wide list of distinct contexts)
    residue: np.ndarray  # lattice offset (bit-0 hypothesis), in [0, step)
    payload_bit: np.ndarray  # -1 for presence cells, else the payload bit index


def _partner_tokens(frame: pd.DataFrame, plan: WatermarkPlan, partner: str, rows: np.ndarray) -> np.ndarray:
    series = frame[partner].iloc[rows]
    if partner in plan.carriers:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        bins = np.floor(numbers / plan.carriers[partner].coarse)
        return np.where(np.isnan(numbers), "<NA>", pd.Series(bins).astype("Int64").astype(str).to_numpy())
    return series.astype("object").where(series.notna(), "<NA>").astype(str).to_numpy()


def table_cells(frame: pd.DataFrame, plan: WatermarkPlan, secret: bytes) -> tuple[list[Cells], int]:
    """Evidence cells of every carrier present in ``frame`` and the number of distinct contexts."""
    key = prf.subkey(secret, plan.id)
    present = [c for c in plan.partners if c in frame.columns]
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for column, carrier in plan.carriers.items():
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        ok = ~np.isnan(values)
        if carrier.atoms:
            ok &= ~np.isin(values, carrier.atoms)
        rows = np.flatnonzero(ok)
        if len(rows) == 0:
            continue
        own = np.floor(values[rows] / carrier.coarse).astype(np.int64)
        # a keyed partner per (column, coarse bin): all cells of a bin share it
        candidates = [p for p in plan.partners if p != column]
        if not candidates:
            continue
        bins, inverse = np.unique(own, return_inverse=True)
        words = prf.keyed_words(key, prf.context_blocks([f"partner|{column}|{b}" for b in bins]))
        choice = (words[:, 0] % np.uint64(len(candidates))).astype(np.int64)[inverse]
        labels = np.empty(len(rows), dtype=object)
        keep = np.zeros(len(rows), dtype=bool)
        for k, partner in enumerate(candidates):
            sel = np.flatnonzero(choice == k)
            if len(sel) == 0 or partner not in present:
                continue
            tokens = _partner_tokens(frame, plan, partner, rows[sel])
            labels[sel] = [f"{column}|{o}|{partner}|{t}" for o, t in zip(own[sel], tokens, strict=True)]
            keep[sel] = True
        parts.append((column, rows[keep], values[rows[keep]], own[keep], labels[keep]))
    all_labels = np.concatenate([p[4] for p in parts]) if parts else np.zeros(0, dtype=object)
    distinct, context = np.unique(all_labels.astype(str), return_inverse=True) if len(all_labels) else ([], [])
    words = prf.keyed_words(key, prf.context_blocks(list(distinct)))
    residue_unit = prf.uniform(words[:, 0])
    is_payload = (words[:, 1] % np.uint64(1000)).astype(np.int64) < int(plan.payload_share * 1000)
    bit = ((words[:, 1] >> np.uint64(32)) % np.uint64(plan.payload_bits)).astype(np.int64)
    out, start = [], 0
    for column, rows, values, own, _labels in parts:
        ctx = np.asarray(context[start : start + len(rows)], dtype=np.int64)
        start += len(rows)
        step = plan.carriers[column].step
        out.append(
            Cells(column, rows, values, own, ctx, residue_unit[ctx] * step, np.where(is_payload[ctx], bit[ctx], -1))
        )
    return out, len(distinct)
