"""Column domains estimated with a declared part of the privacy budget, for columns the schema does not declare
public: the bounds of a number, the categories of a categorical column.

A DP generator given ``domain_share`` spends that share of its rho on the domains of every such column (the rest
of its budget is scaled down to match, so the total stays the declared one); one last budget line says so. Each
row adds one to one count per estimated column, so the m columns' counts together have L2 sensitivity sqrt(m) and
one noise sd sigma costs m / (2 sigma^2) in zCDP.

* **Numbers**: a Gaussian histogram on a fixed, data-independent grid of signed powers of two (zero, then
  [2^k, 2^(k+1)) and its mirror for k from -20 to 63). The bounds are the outer edges of the lowest and highest
  buckets whose noisy count passes a threshold that an empty bucket passes with probability at most
  :data:`FALSE_BUCKET` over all buckets of all estimated numbers (sigma times the normal quantile of 1 -
  FALSE_BUCKET / buckets: 4.2 sigma for 4 columns): coarse (a power of two) but learnt within the budget.
* **Categories**: the categories present get Gaussian noisy counts and those above a threshold tau are kept
  (Gaussian thresholding, Korolova et al. 2009; Wilkins et al. 2024): a category seen in the data is a fact about
  the data, so a category only one row holds must stay unseen but for a probability delta_c. With tau = 1 + sigma
  times the normal quantile of 1 - delta_c / c (c categorical columns), the event that a neighbouring table's
  extra row shows one of its own categories has probability at most delta_c; outside it the output is the
  Gaussian mechanism's. So the line is delta_c-approximately rho-zCDP (Bun & Steinke 2016, Definition 1.8):
  :data:`DELTA_SHARE` of the release's delta goes to delta_c, and the other lines are accounted at the rest
  (approximate zCDP composes by adding rhos and deltas; :func:`synthgov.privacy.rdp.composed`).

Values outside the estimated bounds are clipped and unseen categories read as missing, as for declared domains.
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

PART = "column domains (estimated)"
MECHANISM = "Gaussian histogram on signed power-of-two buckets (numbers), Gaussian thresholding (categories)"
FALSE_BUCKET = 0.01
DELTA_SHARE = 0.1
SMALLEST_EXPONENT, LARGEST_EXPONENT = -20, 63
#: bucket i is [EDGES[i], EDGES[i + 1]); the bucket around zero is [-2^-20, 2^-20)
_POSITIVE = 2.0 ** np.arange(SMALLEST_EXPONENT, LARGEST_EXPONENT + 2)
EDGES = np.concatenate([-_POSITIVE[::-1], _POSITIVE])


def source(line: dict[str, Any], columns: int) -> str:
    """How an estimated column's domain is stated in the manifest."""
    extra = f", delta {line['delta']:.3g}" if line.get("delta") else ""
    return (
        f"estimated (DP: {MECHANISM}; rho {line['rho']:.4g}{extra} for {columns} column(s); "
        "synthgov.privacy.domain_estimation)"
    )


def threshold_sigmas(columns: int) -> float:
    """The noisy count, in noise sds, above which a number's bucket counts as holding rows (see the module)."""
    from scipy.special import ndtri

    return float(ndtri(1.0 - FALSE_BUCKET / (columns * (EDGES.size - 1))))


def columns_to_estimate(schema: Schema) -> tuple[list[str], list[str]]:
    """(numbers without public ``min`` / ``max``, categorical columns without public ``categories``), read from the
    schema alone."""
    numeric, categorical = [], []
    for col in schema.columns:
        if col.kind == "numeric" and not (col.public and col.min is not None and col.max is not None):
            numeric.append(col.name)
        elif col.kind == "categorical" and not (col.public and col.categories):
            categorical.append(col.name)
    return numeric, categorical


def check_share(share: Any) -> float | None:
    if share is None:
        return None
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise InputError(f"domain_share must lie strictly between 0 and 1 (or be None), got {share!r}")
    return float(share)


def check_schema(schema: Schema, share: float | None) -> tuple[list[str], list[str]]:
    """The columns whose domains will be estimated; before any data is read, one clear error for a column that
    can have no domain (its kind) or whose domain is neither declared nor paid for."""
    from synthgov.privacy.domains import column_domain

    numeric, categorical = columns_to_estimate(schema)
    for col in schema.columns:
        if col.name not in numeric and col.name not in categorical:
            column_domain(col)
    names = numeric + categorical
    if names and share is None:
        listed = ", ".join(f"'{n}'" for n in names[:5]) + (" ..." if len(names) > 5 else "")
        raise InputError(
            f"column(s) {listed} have no public domain: declare their min and max, or categories, public in the "
            "schema (synthgov schema TABLE --domains writes a draft to check), or spend part of the budget on "
            "estimating them (--param domain_share=0.05) (see docs/privacy.md)"
        )
    return numeric, categorical


def other_lines_delta(delta: float, categorical: int) -> float:
    """The delta the release's other lines are accounted at: all of it, less :data:`DELTA_SHARE` when categories
    are estimated."""
    return delta * (1.0 - DELTA_SHARE) if categorical else delta


def with_domain_line(
    lines: list[dict[str, Any]], share: float | None, numeric: int, categorical: int, delta: float
) -> list[dict[str, Any]]:
    """``lines`` (a generator's itemised zCDP budget, accounted at :func:`other_lines_delta`) with ``share`` of
    their rho moved to a last line for the estimated domains; unchanged when there are none."""
    if numeric + categorical == 0:
        return lines
    if share is None:
        raise InputError("domain_share is not set")  # check_schema says which columns first
    total = math.fsum(float(line["rho"]) for line in lines)
    scaled = [{**line, "rho": float(line["rho"]) * (1.0 - share)} for line in lines]
    line: dict[str, Any] = {"part": PART, "mechanism": MECHANISM, "rho": total - math.fsum(x["rho"] for x in scaled)}
    if categorical:
        line["delta"] = delta * DELTA_SHARE
    return [*scaled, line]


def estimate(
    frame: pd.DataFrame,
    schema: Schema,
    numeric: list[str],
    categorical: list[str],
    line: dict[str, Any],
    rng: np.random.Generator,
) -> Schema:
    """A copy of ``schema`` with DP domains for ``numeric`` and ``categorical``, made public (see the module)."""
    out = Schema.from_dict(schema.to_dict())
    m = len(numeric) + len(categorical)
    if m == 0:
        return out
    sigma = math.sqrt(m / (2.0 * float(line["rho"])))
    for name in numeric:
        lo, hi = _bounds(frame[name], sigma, threshold_sigmas(len(numeric)) * sigma, name, rng)
        col = out[name]
        if col.integer:
            lo, hi = float(math.ceil(lo)), float(math.ceil(hi) - 1)
        col.min, col.max, col.public = lo, max(hi, lo), True
        logger.info("column '%s': DP-estimated bounds [%g, %g]", name, lo, col.max)
    if categorical:
        from scipy.special import ndtri

        tau = 1.0 + sigma * float(ndtri(1.0 - float(line["delta"]) / len(categorical)))
        for name in categorical:
            col = out[name]
            col.categories, col.public, col.max_categories = _categories(frame[name], sigma, tau, name, rng), True, None
            logger.info("column '%s': %d DP-estimated categories", name, len(col.categories))
    return out


def _bounds(
    series: pd.Series, sigma: float, threshold: float, name: str, rng: np.random.Generator
) -> tuple[float, float]:
    from synthgov.privacy.mechanisms import gaussian_counts

    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    values = np.clip(values[~np.isnan(values)], EDGES[0], np.nextafter(EDGES[-1], 0))
    buckets = np.clip(np.searchsorted(EDGES, values, side="right") - 1, 0, EDGES.size - 2)
    noisy = gaussian_counts(np.bincount(buckets, minlength=EDGES.size - 1), sigma, rng)
    kept = np.flatnonzero(noisy > threshold)
    if kept.size == 0:
        raise InputError(
            f"column '{name}': its bounds cannot be estimated (no value range stands out of the noise, sd "
            f"{sigma:.3g} rows); declare them public in the schema or raise domain_share"
        )
    return float(EDGES[kept[0]]), float(EDGES[kept[-1] + 1])


def _categories(series: pd.Series, sigma: float, tau: float, name: str, rng: np.random.Generator) -> list[Any]:
    from synthgov.privacy.domains import _key

    counts = series.dropna().value_counts(sort=False)
    noisy = counts.to_numpy(dtype=np.float64) + rng.normal(0.0, sigma, counts.size)
    kept = [v.item() if hasattr(v, "item") else v for v, y in zip(counts.index, noisy, strict=True) if y > tau]
    if not kept:
        raise InputError(
            f"column '{name}': no category stands out of the noise (threshold {tau:.3g} rows); declare its "
            "categories public in the schema or raise domain_share"
        )
    return sorted(kept, key=_key)


def domain_sources(domains: Any, estimated: list[str], lines: list[dict[str, Any]]) -> dict[str, str]:
    """Each column's domain source for the manifest: declared public, or estimated (with the line's budget)."""
    from synthgov.privacy.domains import DOMAIN_SOURCE

    line = next((x for x in lines if x.get("part") == PART), None)
    return {
        name: source(line, len(estimated)) if line is not None and name in estimated else DOMAIN_SOURCE
        for name in domains
    }
