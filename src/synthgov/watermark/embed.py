"""Embedding: each carrier cell moves ``strength`` of the way towards the nearest point of its context's keyed
lattice ``residue + k * step`` (plus half a step where the context carries a payload bit of 1), clipped to its
own coarse bin so that its context never changes. A partial move spreads each cell's phase over
``(1 - strength)`` of a period instead of the whole circle: the mean phasor of a cell is
``sinc(1 - strength)`` (0.5: 0.64) at ``strength`` times the displacement of full quantisation.

On a coarse value grid (integers with a lattice of a few steps, as age in years) a partial move would round
back to where it started; there each cell goes, with probability ``0.7 x strength``, to the grid value of its bin
whose phase is nearest the lattice (a seeded, reproducible draw), so the cost and the coherence stay in the
same proportion. Every value stays on the column's grid and within its observed range. Missing values, point
masses and non-carrier columns are never touched. Categories move only by the keyed share shift of
:mod:`.category_shares` (under 1% of a column's rows), before the cells are marked.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from synthgov.watermark import prf
from synthgov.watermark.category_shares import embed_shares
from synthgov.watermark.cells import bin_bounds, is_coarse, nearest_grid_value, table_cells
from synthgov.watermark.plan import WatermarkPlan

COARSE_SHARE = 0.7  # coarse columns move less often: each move is a whole grid step (age: 3 KS points at 0.65)


def payload_bits(payload: int, n_bits: int) -> np.ndarray:
    return np.array([(payload >> b) & 1 for b in range(n_bits)], dtype=np.int64)


def embed(
    frame: pd.DataFrame, plan: WatermarkPlan, secret: bytes, *, chunk: int | None = None, scale: float = 1.0
) -> pd.DataFrame:
    """A marked copy of ``frame`` (the input is not changed): category shares first (whose followers may be
    numeric columns, never carriers), then the carrier cells. A release marked in chunks under one plan gives
    each its index ``chunk`` (its own stream of the seeded draws) and ``scale``, its rows over those the plan's
    category counts were taken from."""
    if plan.category_counts:
        frame = embed_shares(frame, plan.category_counts, prf.subkey(secret, plan.id), scale)
    out = frame.copy()
    bits = payload_bits(plan.payload, plan.payload_bits)
    seed = int.from_bytes(hashlib.sha256(plan.id.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed if chunk is None else [seed, chunk])
    cells, _ = table_cells(frame, plan, secret)
    for c in cells:
        carrier = plan.carriers[c.column]
        step = carrier.step
        target = c.residue + bits[c.payload_bit] * step / 2
        low, high = bin_bounds(c, carrier)
        if is_coarse(carrier):
            best = nearest_grid_value(c, carrier, target)
            best = np.where(np.isnan(best), c.values, best)
            moved = np.where(rng.random(len(best)) < plan.strength * COARSE_SHARE, best, c.values)
        else:
            nearest = target + step * np.round((c.values - target) / step)
            moved = c.values + plan.strength * (nearest - c.values)
            edge = carrier.grid if carrier.grid > 0 else step * 1e-6
            moved = np.clip(moved, low, high - edge)
            if carrier.grid > 0:
                moved = np.round(moved / carrier.grid) * carrier.grid
        column = pd.to_numeric(frame[c.column], errors="coerce")
        ok = (moved >= low) & (moved < high) & (moved >= column.min()) & (moved <= column.max())
        values = column.to_numpy(dtype=np.float64).copy()
        values[c.rows[ok]] = moved[ok]
        dtype = frame[c.column].dtype
        if pd.api.types.is_integer_dtype(dtype):
            rounded = np.round(values)
            out[c.column] = pd.array(rounded, dtype=dtype) if frame[c.column].isna().any() else rounded.astype(dtype)
        else:
            out[c.column] = pd.Series(values, index=frame.index).astype(dtype)
    return out
