"""Column bounds estimated with a declared part of the privacy budget, for numbers whose range the schema does not
declare public.

A DP generator given ``bounds_share`` spends that share of its rho on the bounds of every numeric column without a
public ``min`` / ``max`` (the rest of its budget is scaled down to match, so the total stays the declared one).
The mechanism is a Gaussian histogram on a fixed, data-independent grid of signed powers of two (zero, then
[2^k, 2^(k+1)) and its mirror for k from -20 to 63): a row falls in one bucket per column, so the m estimated
columns' histograms together have L2 sensitivity sqrt(m) and one noise sd sigma costs m / (2 sigma^2) in zCDP. The
bounds are the outer edges of the lowest and highest buckets whose noisy count exceeds a threshold that an empty
bucket passes with probability at most :data:`FALSE_BUCKET` over all buckets of all estimated columns (sigma times
the normal quantile of 1 - FALSE_BUCKET / buckets: 4.2 sigma for 4 columns; post-processing): coarse (a power of
two) but learnt within the budget. Values
outside them are clipped, like values outside declared bounds. Categories must still be declared: an unknown set
of categories cannot be estimated without a delta of its own (a category held by one row must stay unseen).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.table.schema import Schema

logger = logging.getLogger(__name__)

PART = "column bounds (estimated)"
MECHANISM = "Gaussian histogram on signed power-of-two buckets"
FALSE_BUCKET = 0.01
SMALLEST_EXPONENT, LARGEST_EXPONENT = -20, 63
#: bucket i is [EDGES[i], EDGES[i + 1]); the bucket around zero is [-2^-20, 2^-20)
_POSITIVE = 2.0 ** np.arange(SMALLEST_EXPONENT, LARGEST_EXPONENT + 2)
EDGES = np.concatenate([-_POSITIVE[::-1], _POSITIVE])


def source(rho: float, columns: int) -> str:
    """How an estimated column's domain is stated in the manifest."""
    return f"estimated (DP: {MECHANISM}, rho {rho:.4g} for {columns} column(s); synthgov.privacy.bounds)"


def threshold_sigmas(columns: int) -> float:
    """The noisy count, in noise sds, above which a bucket counts as holding rows (see the module)."""
    from scipy.special import ndtri

    return float(ndtri(1.0 - FALSE_BUCKET / (columns * (EDGES.size - 1))))


def columns_to_estimate(schema: Schema) -> list[str]:
    """Numeric columns whose bounds the schema does not declare public (read from the schema alone)."""
    return [
        col.name
        for col in schema.columns
        if col.kind == "numeric" and not (col.public and col.min is not None and col.max is not None)
    ]


def check_share(share: Any) -> float | None:
    if share is None:
        return None
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise InputError(f"bounds_share must lie strictly between 0 and 1 (or be None), got {share!r}")
    return float(share)


def with_bounds_line(lines: list[dict[str, Any]], share: float | None, estimated: int) -> list[dict[str, Any]]:
    """``lines`` (a generator's itemised zCDP budget) with ``share`` of their rho moved to a last line for the
    bounds of ``estimated`` columns; unchanged when no column needs estimating."""
    if estimated == 0:
        return lines
    if share is None:
        raise InputError("bounds_share is not set")  # checked with the column names before this (require_share)
    total = math.fsum(float(line["rho"]) for line in lines)
    scaled = [{**line, "rho": float(line["rho"]) * (1.0 - share)} for line in lines]
    bounds = total - math.fsum(line["rho"] for line in scaled)
    return [*scaled, {"part": PART, "mechanism": MECHANISM, "rho": bounds}]


def check_schema(schema: Schema, share: float | None) -> list[str]:
    """The numeric columns whose bounds will be estimated; before any data is read, one clear error for a column
    without a public domain that cannot be estimated (categories, or bounds without ``bounds_share``)."""
    from synthgov.privacy.domains import column_domain

    names = columns_to_estimate(schema)
    for col in schema.columns:
        if col.name not in names:
            column_domain(col)
    if names and share is None:
        listed = ", ".join(f"'{n}'" for n in names[:5]) + (" ..." if len(names) > 5 else "")
        raise InputError(
            f"column(s) {listed} have no public min and max: declare them public in the schema (synthgov schema "
            "TABLE --domains writes a draft to check), or spend part of the budget on estimating them "
            "(--param bounds_share=0.05) (see docs/privacy.md)"
        )
    return names


def estimate(frame: pd.DataFrame, schema: Schema, names: list[str], rho: float, rng: np.random.Generator) -> Schema:
    """A copy of ``schema`` with DP bounds for the numeric columns ``names``, made public (see the module)."""
    from synthgov.privacy.mechanisms import gaussian_counts

    out = Schema.from_dict(schema.to_dict())
    if not names:
        return out
    sigma = math.sqrt(len(names) / (2.0 * rho))
    threshold = threshold_sigmas(len(names)) * sigma
    for name in names:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        values = np.clip(values[~np.isnan(values)], EDGES[0], np.nextafter(EDGES[-1], 0))
        buckets = np.clip(np.searchsorted(EDGES, values, side="right") - 1, 0, EDGES.size - 2)
        noisy = gaussian_counts(np.bincount(buckets, minlength=EDGES.size - 1), sigma, rng)
        kept = np.flatnonzero(noisy > threshold)
        if kept.size == 0:
            raise InputError(
                f"column '{name}': its bounds cannot be estimated (no value range stands out of the noise, sd "
                f"{sigma:.3g} rows); declare them public in the schema or raise bounds_share"
            )
        lo, hi = float(EDGES[kept[0]]), float(EDGES[kept[-1] + 1])
        col = out[name]
        if col.integer:
            lo, hi = float(math.ceil(lo)), float(math.ceil(hi) - 1)
        col.min, col.max, col.public = lo, max(hi, lo), True
        logger.info("column '%s': DP-estimated bounds [%g, %g]", name, lo, col.max)
    return out


def domain_sources(domains: Any, estimated: list[str], lines: list[dict[str, Any]]) -> dict[str, str]:
    """Each column's domain source for the manifest: declared public, or estimated (with the line's rho)."""
    from synthgov.privacy.domains import DOMAIN_SOURCE

    rho = next((float(line["rho"]) for line in lines if line.get("part") == PART), 0.0)
    return {name: source(rho, len(estimated)) if name in estimated else DOMAIN_SOURCE for name in domains}
