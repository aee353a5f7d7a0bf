"""Embedding: every carrier cell moves ``strength`` (default half) of the way to the nearest point of its
context's keyed lattice ``residue + k * step`` (plus half a step where the context carries a payload bit of 1)
inside its own coarse bin (a partial move keeps the values spread: the mean phasor of a cell is then
sinc(1 - strength) = 0.64 instead of 1, at half the displacement), on the column's value grid and within
the column's observed range; a cell that cannot (too close to a bin edge after rounding) stays as it is and
merely adds noise at detection. Categories, missing values, point
masses and non-carrier columns are never touched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgov.watermark.cells import table_cells
from synthgov.watermark.plan import WatermarkPlan


def payload_bits(payload: int, n_bits: int) -> np.ndarray:
    return np.array([(payload >> b) & 1 for b in range(n_bits)], dtype=np.int64)


def embed(frame: pd.DataFrame, plan: WatermarkPlan, secret: bytes) -> pd.DataFrame:
    """A marked copy of ``frame`` (the input is not changed)."""
    out = frame.copy()
    bits = payload_bits(plan.payload, plan.payload_bits)
    cells, _ = table_cells(frame, plan, secret)
    for c in cells:
        carrier = plan.carriers[c.column]
        step, width = carrier.step, carrier.coarse
        target = c.residue + np.where(c.payload_bit >= 0, bits[np.maximum(c.payload_bit, 0)] * step / 2, 0.0)
        nearest = target + step * np.round((c.values - target) / step)
        low, high = c.own_bin * width, (c.own_bin + 1) * width
        nearest = np.where(nearest < low, nearest + step, nearest)
        nearest = np.where(nearest >= high, nearest - step, nearest)
        far = np.abs(nearest - c.values) > step / 2  # the bin edge forces the far point: go all the way
        moved = np.where(far, nearest, c.values + plan.strength * (nearest - c.values))
        if carrier.grid > 0:
            moved = np.round(moved / carrier.grid) * carrier.grid
        column = pd.to_numeric(frame[c.column], errors="coerce")
        ok = (moved >= low) & (moved < high) & (moved >= column.min()) & (moved <= column.max())
        values = column.to_numpy(dtype=np.float64).copy()
        values[c.rows[ok]] = moved[ok]
        if pd.api.types.is_integer_dtype(frame[c.column].dtype):
            out[c.column] = (
                pd.array(np.round(values), dtype=frame[c.column].dtype)
                if frame[c.column].isna().any()
                else np.round(values).astype(frame[c.column].dtype)
            )
        else:
            out[c.column] = pd.Series(values, index=frame.index).astype(frame[c.column].dtype)
    return out
