"""Post-processing of noisy one-way counts shared by the marginal-based DP generators (``mst``, ``bayesnet`` with
``epsilon``): the number of rows, the model's groups of public cells, and the weights of the cells inside a group.
Everything here reads noisy counts only, so it costs no privacy budget.

* cells whose noisy count is below :data:`RARE_SIGMAS` noise sds are compressed into one group (MST's domain
  compression: a rare category is modelled without revealing that it exists);
* a number's cells are merged into at most ``bins`` groups of about equal noisy mass, unless few enough cells are
  well measured to keep one group each;
* a number is drawn inside its group from the noisy counts of its cells (never a bin midpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov.privacy.domains import ColumnDomain
from synthgov.table.schema import Schema

RARE_SIGMAS = 3.0  # cells below this many noise sds are compressed (MST's domain compression)
KEEP_SIGMAS = 2.0  # fine cells below this many noise sds get no weight inside their group (unless all do)


def noisy_total(noisy: list[np.ndarray], sigma: float) -> float:
    """The number of rows as the inverse-variance weighted mean of the noisy tables' sums (at least 1)."""
    sums = np.array([y.sum() for y in noisy])
    weights = np.array([1.0 / (y.size * sigma**2) for y in noisy])
    return float(max(1.0, np.sum(sums * weights) / weights.sum()))


def model_groups(domain: ColumnDomain, noisy: np.ndarray, sigma: float, bins: int) -> np.ndarray:
    """The model group of each fine cell, from the noisy counts alone."""
    threshold = RARE_SIGMAS * sigma
    groups = np.empty(domain.size, dtype=np.int64)
    if domain.kind != "numeric":
        kept = np.flatnonzero(noisy >= threshold)
        groups[:] = -1
        groups[kept] = np.arange(kept.size)
        rare = groups < 0
        rare[domain.missing] = False
        if rare.any():
            groups[rare] = kept.size  # one group for every cell below the threshold (MST's compression)
        if groups[domain.missing] < 0:  # too few missing values to model: never drawn (see _within)
            if rare.any():
                groups[domain.missing] = kept.size
            else:
                groups[domain.missing] = int(np.argmax(noisy[kept])) if kept.size else 0
                groups[groups < 0] = 0
        return groups
    values = domain.missing  # the non-missing cells come first, in order
    mass = np.maximum(noisy[:values], 0.0)
    count = int(max(1, min(bins, np.floor(mass.sum() / max(threshold, 1e-9)))))
    heavy = np.flatnonzero(noisy[:values] >= threshold)
    if 0 < heavy.size <= count:
        # few enough well-measured cells (a small integer domain such as a grade): one group each, every light
        # cell joining the nearest heavy cell, so no group mixes two values the model could tell apart
        nearest = np.abs(np.arange(values)[:, None] - heavy[None, :]).argmin(axis=1)
        groups[:values] = nearest
    elif mass.sum() <= 0:
        groups[:values] = 0
    else:
        share = (np.cumsum(mass) - mass / 2) / mass.sum()
        raw = np.minimum((share * count).astype(np.int64), count - 1)
        groups[:values] = np.unique(raw, return_inverse=True)[1]
    top = int(groups[:values].max()) + 1
    if noisy[domain.missing] >= threshold:
        groups[domain.missing] = top
    else:  # too few missing values to model: they join the largest group (and are drawn by their noisy weight)
        largest = np.bincount(groups[:values], weights=mass).argmax() if mass.sum() > 0 else 0
        groups[domain.missing] = largest
    return groups


def within_weights(domain: ColumnDomain, groups: np.ndarray, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Weights of the fine cells inside their group: the clipped noisy counts; for the range cells of a number
    (mostly empty cells in a long tail), cells below ``KEEP_SIGMAS`` sigma are dropped, and the missing cell below
    ``RARE_SIGMAS`` sigma, unless a group would be left with none (then the clipped counts, then uniform)."""
    clipped = np.maximum(noisy, 0.0)
    weights = np.where(noisy >= KEEP_SIGMAS * sigma, noisy, 0.0) if domain.edges is not None else clipped.copy()
    if noisy[domain.missing] < RARE_SIGMAS * sigma:
        weights[domain.missing] = 0.0  # too few missing values to tell from none: none (keeps a column's dtype)
    for group in np.unique(groups):
        cells = groups == group
        if weights[cells].sum() <= 0:
            weights[cells] = clipped[cells] if clipped[cells].sum() > 0 else 1.0
    return weights


@dataclass
class OneWay:
    """The first step of the marginal-based DP generators: every column's noisy counts on its public cells, and
    what post-processing makes of them. ``codes[j]`` are the rows' model groups of column j (exact: they feed
    later noisy measurements, never the release), ``counts[j]`` the noisy counts per group, ``variances[j]``
    their noise variance per group."""

    domains: dict[str, ColumnDomain]
    groups: list[np.ndarray]
    within: list[np.ndarray]
    codes: list[np.ndarray]
    counts: list[np.ndarray]
    variances: list[np.ndarray]
    total: float

    @property
    def sizes(self) -> list[int]:
        return [int(g.max()) + 1 for g in self.groups]


def measure_one_way(
    frame: pd.DataFrame, domains: dict[str, ColumnDomain], rho: float, bins: int, rng: np.random.Generator
) -> OneWay:
    """Gaussian noise on all one-way tables at one sigma (spending ``rho`` in all), then the groups and weights."""
    from synthgov.privacy.mechanisms import gaussian_counts, sigma_for

    names = list(domains)
    sigma = sigma_for(len(names), rho)
    fine = [domains[name].encode(frame[name]) for name in names]
    noisy = [
        gaussian_counts(np.bincount(c, minlength=domains[n].size), sigma, rng) for c, n in zip(fine, names, strict=True)
    ]
    groups = [model_groups(domains[n], y, sigma, bins) for n, y in zip(names, noisy, strict=True)]
    return OneWay(
        domains=domains,
        groups=groups,
        within=[within_weights(domains[n], g, y, sigma) for n, g, y in zip(names, groups, noisy, strict=True)],
        codes=[g[c] for g, c in zip(groups, fine, strict=True)],
        counts=[np.bincount(g, weights=y, minlength=int(g.max()) + 1) for g, y in zip(groups, noisy, strict=True)],
        variances=[sigma**2 * np.bincount(g) for g in groups],
        total=noisy_total(noisy, sigma),
    )


def draw_values(
    one_way_groups: np.ndarray, within: np.ndarray, coarse: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Fine cells for model groups ``coarse``: each drawn inside its group by the group's cell weights."""
    out = np.empty_like(coarse)
    for group in np.unique(coarse):
        at = np.flatnonzero(coarse == group)
        cells = np.flatnonzero(one_way_groups == group)
        p = within[cells] / within[cells].sum()
        out[at] = cells[rng.choice(cells.size, size=at.size, p=p)]
    return out


def dp_schema(frame: pd.DataFrame, schema: Any) -> Schema:
    """The schema a DP generator fits with: given (inferring one would read the data outside the budget) and
    matching the table's columns."""
    from synthgov.errors import InputError

    if schema is None:
        raise InputError(
            "a DP generator needs a schema whose domains are declared public (inferring one would read the data "
            "outside the budget): synthgov schema TABLE --domains, check it, then pass it with --schema"
        )
    schema_ = schema if isinstance(schema, Schema) else Schema.load(schema)
    schema_.check_against(list(frame.columns))
    return schema_


def loss_summary(
    domains: dict[str, ColumnDomain], groups: list[np.ndarray], noise_sd: dict[str, float]
) -> dict[str, Any]:
    """What the noise cost, stated from the noisy counts only (post-processing, so it may be published): each
    measurement's noise sd in rows, and per column how many of its public value cells (the missing cell aside)
    share a model group with another, i.e. the model cannot tell them apart."""
    columns = {}
    for (name, domain), group in zip(domains.items(), groups, strict=True):
        values = group[: domain.missing]
        sizes = np.bincount(values)
        columns[name] = {
            "cells": int(values.size),
            "model_groups": int(np.unique(group).size),
            "cells_merged": int(sizes[sizes > 1].sum()),
        }
    return {"noise_sd_rows": {k: float(v) for k, v in noise_sd.items()}, "columns": columns}
