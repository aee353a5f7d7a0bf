"""What carries the watermark in a table, and at which scale (kept by the issuer, see :mod:`.registry`).

Carriers are numeric columns with at least 20 distinct values outside their point masses (a value holding 5%
or more of the column, such as 40 in hours-per-week, or a heap of 2% or more that is 3 times as common as either
neighbouring value, such as 60 hours, is never moved; a column with less than 20% of its cells
outside point masses, such as capital-gain, carries nothing) and not a function of a categorical column (a
derived column moved alone would break its dependency). Each carrier gets a lattice step
``w = max(step x robust scale, 2.5 value-grid steps)`` (at most a quarter of the robust scale, else the column
is too coarse to carry anything). ``step`` is 0.1 when the table has categorical columns for the share channel
of :mod:`.category_shares` (which survives noise and rounding of the numbers, so the lattice can be fine and
cheap: the cost in Column Shapes is a bump of the CDF inside each bin, proportional to the bin's mass), else
0.2 (coarser, for the cells alone to survive noise of 5% of a standard deviation). Coarse bins are
``coarse x w`` (whole lattice periods, so a marked value never leaves its coarse bin).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.watermark.category_shares import categorical_columns

SCHEME = "synthgov-qim-v2"
MIN_DISTINCT = 20
STEP_WITH_SHARES = 0.1  # lattice step in robust scales when the share channel carries the value-only attacks
STEP_ALONE = 0.2  # ... and when the cells are the whole mark
ATOM_SHARE = 0.05  # a value this common is a point mass
HEAP_SHARE = 0.02  # ... and so is a heap: a value of 2% or more ...
HEAP_RATIO = 3.0  # ... at least 3 times as common as either neighbouring value (60 hours a week; not age 36)
MIN_GRID_STEPS = 2.5  # lattice >= 2.5 grid steps (age in whole years: 2.5 years)
MAX_STEP = 0.25  # ... but never coarser than a quarter of the robust scale
MIN_FREE_SHARE = 0.2  # columns that are mostly point masses (capital-gain: 92% zeros) carry nothing
PAYLOAD_BITS = 32
# evidence a carrier cell gives its payload bit, as (mean / sd)^2 of its vote on Adult: a fine-grid cell's
# cosine 2.6, a coarse-grid cell's target indicator 0.25-0.5; used only to balance the bits
CELL_INFORMATION = {"fine": 1.0, "coarse": 0.15}
COARSE_GRID = 10  # a lattice of fewer value-grid steps than this is "coarse" (age in years: 2.5 steps)


@dataclass
class Carrier:
    step: float  # lattice period w
    coarse: float  # coarse bin width W = k * w
    grid: float  # value grid (1 for integers, 10^-d for d decimals, 0 for free floats)
    atoms: list[float] = field(default_factory=list)
    low: float | None = None  # the observed range at embedding: no value is moved outside it, and payload
    high: float | None = None  # decoding knows which lattice points were reachable in an edge bin
    bin_bits: dict[str, int] = field(default_factory=dict)  # payload bit of each coarse bin seen at embedding


@dataclass
class WatermarkPlan:
    id: str
    key_id: str
    carriers: dict[str, Carrier]
    payload: int  # the 32-bit recipient id embedded
    recipient: str | None = None
    release_id: str | None = None
    payload_bits: int = PAYLOAD_BITS
    strength: float = 0.5
    scheme: str = SCHEME
    coherence: float | None = None  # mean signed payload vote of a carrier cell in the marked release
    # category counts before embedding, per marked categorical column (:mod:`.category_shares`); private to the
    # issuer's registry like the rest of the plan, never in a manifest
    category_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatermarkPlan:
        try:
            carriers = {name: Carrier(**spec) for name, spec in data["carriers"].items()}
            return cls(**{**data, "carriers": carriers})
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a synthgov watermark plan: {exc}") from None

    def summary(self) -> dict[str, Any]:
        """What a manifest may say (no key, no dithers): scheme, carriers and their scales."""
        return {
            "scheme": self.scheme,
            "plan_id": self.id,
            "carriers": {n: {"step": c.step, "coarse": c.coarse} for n, c in self.carriers.items()},
            "payload_bits": self.payload_bits,
            "category_columns": sorted(self.category_counts),
        }


def payload_of(recipient: str | None, plan_id: str) -> int:
    """32-bit payload: of the recipient's name when one is given, else of the plan (one per release)."""
    import hashlib

    return int.from_bytes(hashlib.sha256((recipient or plan_id).encode("utf-8")).digest()[:4], "big")


def _grid(values: np.ndarray) -> float:
    if np.all(np.isclose(values, np.round(values))):
        ints = np.abs(np.round(values).astype(np.int64))
        g = int(np.gcd.reduce(ints[ints > 0])) if (ints > 0).any() else 1
        return float(max(g, 1))
    for decimals in range(1, 7):
        if np.allclose(values, np.round(values, decimals), rtol=0, atol=1e-9):
            return 10.0**-decimals
    return 0.0


def _category_codes(frame: pd.DataFrame, categorical: list[str]) -> dict[str, tuple[np.ndarray, int]]:
    """Integer codes (missing: one value) and their count, of each categorical column of at most 1,000 values."""
    out = {}
    for other in categorical:
        if frame[other].nunique(dropna=False) <= 1000:
            keys, groups = pd.factorize(frame[other].astype("object").where(frame[other].notna(), "<NA>"))
            out[other] = (keys, len(groups))
    return out


def _is_derived(frame: pd.DataFrame, column: str, codes: dict[str, tuple[np.ndarray, int]]) -> bool:
    """Whether ``column`` holds one value (missing values aside) within each category of one of the categorical
    columns coded in ``codes`` (:func:`_category_codes`): a group-by's ``nunique``, counted on integer codes."""
    from synthgov.watermark.category_shares import is_function_of

    values, uniques = pd.factorize(frame[column])  # missing: -1, not a value (as nunique)
    present = values >= 0
    return any(is_function_of(keys[present], n, values[present], len(uniques)) for keys, n in codes.values())


def make_plan(
    frame: pd.DataFrame,
    key_id: str,
    *,
    release_id: str | None = None,
    recipient: str | None = None,
    step: float | None = None,
    coarse: int = 1,
    plan_seed: str | None = None,
) -> WatermarkPlan:
    """The carriers of ``frame`` and their scales (see module docstring). ``plan_seed`` makes the plan id (and
    so every dither) a function of it: the same seed, key and table give the same marked rows."""
    from synthgov.watermark.category_shares import reference_counts

    categorical = categorical_columns(frame)
    shares = reference_counts(frame, categorical)
    if step is None:
        step = STEP_WITH_SHARES if shares else STEP_ALONE
    carriers: dict[str, Carrier] = {}
    codes = _category_codes(frame, categorical)  # once, for every numeric column's _is_derived
    for column in frame.columns:
        series = frame[column]
        if column in categorical or not pd.api.types.is_numeric_dtype(series):
            continue
        values = series.dropna().to_numpy(dtype=np.float64)
        if len(values) == 0:
            continue
        uniques, counts = np.unique(values, return_counts=True)
        neighbours = np.maximum(np.r_[0, counts[:-1]], np.r_[counts[1:], 0])
        heaps = (counts >= HEAP_SHARE * len(values)) & (counts >= HEAP_RATIO * neighbours)
        atoms = uniques[(counts >= ATOM_SHARE * len(values)) | heaps]
        rest = values[~np.isin(values, atoms)]
        if np.unique(rest).size < MIN_DISTINCT or len(rest) < MIN_FREE_SHARE * len(values):
            continue
        q75, q25 = np.percentile(rest, [75, 25])
        scale = (q75 - q25) / 1.349 or float(np.std(rest))
        grid = _grid(rest)
        if scale <= 0 or _is_derived(frame, column, codes):
            continue
        lattice = max(step * scale, MIN_GRID_STEPS * grid)  # a lattice the value grid can express
        if lattice > MAX_STEP * scale:
            continue
        carriers[str(column)] = Carrier(
            lattice, coarse * lattice, grid, [float(a) for a in atoms], float(values.min()), float(values.max())
        )
    _balance_payload_bits(frame, carriers, PAYLOAD_BITS)
    import hashlib

    plan_id = hashlib.sha256(plan_seed.encode()).hexdigest()[:32] if plan_seed is not None else uuid.uuid4().hex
    return WatermarkPlan(
        id=plan_id,
        key_id=key_id,
        carriers=carriers,
        payload=payload_of(recipient, plan_id),
        recipient=recipient,
        release_id=release_id,
        category_counts=shares,
    )


def _balance_payload_bits(frame: pd.DataFrame, carriers: dict[str, Carrier], n_bits: int) -> None:
    """Give every payload bit about the same evidence: the coarse bins of all carriers, largest first, each go
    to the bit that has the least so far (longest-processing-time scheduling), weighted by what a cell of its
    kind tells (``CELL_INFORMATION``). Walking neighbouring bins through the bits instead (v1) left the bits
    that only tail bins carried with a handful of cells: one payload in ten misread from 2,000 rows once the
    lattice was made coarser for noise. Bins not seen here fall back to that walk (:mod:`.cells`)."""
    items: list[tuple[float, str, int]] = []
    for name, carrier in carriers.items():
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        if carrier.atoms:
            values = values[~np.isin(values, carrier.atoms)]
        bins, counts = np.unique(np.floor(values / carrier.coarse).astype(np.int64), return_counts=True)
        kind = "coarse" if carrier.grid > 0 and carrier.step / carrier.grid < COARSE_GRID else "fine"
        items += [(float(n) * CELL_INFORMATION[kind], name, int(b)) for b, n in zip(bins, counts, strict=True)]
    load = np.zeros(n_bits)
    for info, name, b in sorted(items, key=lambda item: (-item[0], item[1], item[2])):
        bit = int(np.argmin(load))
        carriers[name].bin_bits[str(b)] = bit
        load[bit] += info
