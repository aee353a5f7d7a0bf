"""PrivBayes (Zhang et al., SIGMOD 2014 / TODS 2017): the differentially private mode of ``bayesnet``
(``synthgov.synthesizer("bayesnet", epsilon=1)``), accounted in zCDP like MST and on the same public cells.

The budget rho = ``cdp_rho(epsilon, delta)`` is split in three equal parts:

1. one-way marginals with Gaussian noise (:func:`synthgov.privacy.cells.measure_one_way`: groups, compression,
   within-group weights; the root's distribution);
2. the network, greedily: d - 1 rounds of the exponential mechanism, each choosing a (child, parents) pair among
   the unplaced columns and parent sets of at most ``degree`` placed columns, scored by the L1 distance between
   the pair's true counts and the child's noisy marginal times the parents' true counts (sensitivity 2: one row
   moves each term by at most 1); a table may not have more cells than the noisy number of rows over four noise
   sds of step 3 (PrivBayes' theta-usefulness with theta = 4), so the tables it measures stay informative;
3. the d - 1 (child, parents) count tables with Gaussian noise; each conditional is the clipped noisy table
   normalised per parent configuration (the child's noisy marginal where a configuration has no mass).

Sampling is ancestral; conditions use likelihood weighting with importance resampling (the evidence columns are
set, each candidate row weighted by the evidence's conditional probabilities, rows drawn by those weights).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.privacy.accounting import check_epsilon_delta, split_in_thirds
from synthgov.privacy.cells import OneWay, measure_one_way
from synthgov.privacy.domains import ColumnDomain
from synthgov.privacy.mechanisms import exponential_choice, gaussian_counts, sigma_for

logger = logging.getLogger(__name__)

MECHANISM = (
    "PrivBayes (Zhang et al. 2017) in zCDP: Gaussian one-way marginals, exponential-mechanism network, Gaussian "
    "conditional tables"
)
THETA = 4.0  # PrivBayes' usefulness: a measured table has at most noisy rows / (THETA * sigma) cells
SCORE_SENSITIVITY = 2.0


PARTS = (("network selection", "exponential"), ("conditional tables", "Gaussian"))


def budget_lines(epsilon: float, delta: float, columns: int) -> list[dict[str, Any]]:
    return split_in_thirds(epsilon, delta, columns, PARTS)


def noise_sd(lines: list[dict[str, Any]], columns: int) -> dict[str, float]:
    """Each noisy measurement's noise sd in rows, from the budget lines and the number of columns alone."""
    noise = {"one-way marginals": sigma_for(columns, lines[0]["rho"])}
    if columns >= 2:
        noise["conditional tables"] = sigma_for(columns - 1, lines[2]["rho"])
    return noise


@dataclass
class PrivBayesModel:
    """A fitted private network: ``network`` as (child, parents) column indices in sampling order, and each
    child's conditional table (parent configurations x child groups, rows summing to 1)."""

    sizes: list[int]
    network: list[tuple[int, list[int]]]
    conditionals: list[np.ndarray]
    groups: list[np.ndarray] = field(default_factory=list)
    within: list[np.ndarray] = field(default_factory=list)

    def to_state(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "network": [[child, list(parents)] for child, parents in self.network],
            "conditionals": list(self.conditionals),
            "groups": list(self.groups),
            "within": list(self.within),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PrivBayesModel:
        return cls(
            sizes=[int(k) for k in state["sizes"]],
            network=[(int(child), [int(p) for p in parents]) for child, parents in state["network"]],
            conditionals=[np.asarray(t, dtype=np.float64) for t in state["conditionals"]],
            groups=[np.asarray(g, dtype=np.int64) for g in state["groups"]],
            within=[np.asarray(w, dtype=np.float64) for w in state["within"]],
        )

    # -- sampling ---------------------------------------------------------------------------------
    def _config(self, codes: np.ndarray, parents: list[int]) -> np.ndarray:
        if not parents:
            return np.zeros(codes.shape[0], dtype=np.int64)
        return np.ravel_multi_index(tuple(codes[:, p] for p in parents), tuple(self.sizes[p] for p in parents))

    def sample_groups(self, n: int, rng: np.random.Generator, evidence: dict[int, int], oversample: int) -> np.ndarray:
        """``n`` rows of model groups; the columns in ``evidence`` hold their group (likelihood weighting)."""
        draws = n * (oversample if evidence else 1)
        codes = np.zeros((draws, len(self.sizes)), dtype=np.int64)
        log_weight = np.zeros(draws)
        for (child, parents), table in zip(self.network, self.conditionals, strict=True):
            config = self._config(codes, parents)
            if child in evidence:
                codes[:, child] = evidence[child]
                with np.errstate(divide="ignore"):
                    log_weight += np.log(table[config, evidence[child]])
                continue
            cdf = np.cumsum(table, axis=1)
            u = rng.random(draws)
            for value in np.unique(config):
                at = np.flatnonzero(config == value)
                codes[at, child] = np.minimum(np.searchsorted(cdf[value], u[at], side="right"), table.shape[1] - 1)
        if not evidence:
            return codes
        if not np.isfinite(log_weight).any():
            raise ValueError("the evidence has probability zero under the model")
        weight = np.exp(log_weight - log_weight[np.isfinite(log_weight)].max())
        chosen = rng.choice(draws, size=n, replace=True, p=weight / weight.sum())
        return codes[chosen]


def fit(
    frame: pd.DataFrame,
    domains: dict[str, ColumnDomain],
    *,
    epsilon: float,
    delta: float,
    degree: int,
    bins: int,
    rng: np.random.Generator,
    lines: list[dict[str, Any]] | None = None,
) -> tuple[PrivBayesModel, OneWay, list[dict[str, Any]]]:
    """Fit the private network (see the module docstring); returns the model, the one-way step and the lines
    (``lines``: the itemised budget when the caller made it, e.g. with a line for estimated bounds after these)."""
    names = list(domains)
    d = len(names)
    lines = lines if lines is not None else budget_lines(epsilon, delta, d)
    with progress.step("measure: one-way marginals (Gaussian noise)"):
        one = measure_one_way(frame, domains, lines[0]["rho"], bins, rng)
    sizes = one.sizes
    marginals = [_distribution(c) for c in one.counts]
    order = [int(v) for v in rng.permutation(d)]  # the root: chosen at random, as in PrivBayes
    network: list[tuple[int, list[int]]] = [(order[0], [])]
    conditionals = [marginals[order[0]][None, :]]
    if d >= 2:
        sigma = sigma_for(d - 1, lines[2]["rho"])
        max_cells = max(1.0, one.total / (THETA * sigma))
        epsilon_step = float(np.sqrt(8.0 * lines[1]["rho"] / (d - 1)))
        placed, remaining = [order[0]], order[1:]
        with progress.step("select: network (exponential mechanism)", total=d - 1) as advance:
            while remaining:
                candidates = _candidates(remaining, placed, sizes, degree, max_cells)
                scores = np.array([_score(one.codes, sizes, marginals, c, p) for c, p in candidates])
                child, parents = candidates[exponential_choice(scores, epsilon_step, SCORE_SENSITIVITY, rng)]
                network.append((child, parents))
                placed.append(child)
                remaining.remove(child)
                advance()
        with progress.step("measure: conditional tables (Gaussian noise)"):
            for child, parents in network[1:]:
                counts = _joint(one.codes, sizes, child, parents)
                noisy = gaussian_counts(counts, sigma, rng)
                conditionals.append(_conditional(noisy, marginals[child]))
    model = PrivBayesModel(sizes, network, conditionals, one.groups, one.within)
    return model, one, lines


def _distribution(counts: np.ndarray) -> np.ndarray:
    p = np.maximum(counts, 0.0)
    return p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / p.size)


def _candidates(
    remaining: list[int], placed: list[int], sizes: list[int], degree: int, max_cells: float
) -> list[tuple[int, list[int]]]:
    """Every (child, parents) with the most parents (up to ``degree``) whose table fits ``max_cells``."""
    out = []
    for child in remaining:
        for k in range(min(degree, len(placed)), -1, -1):
            sets = [
                list(p) for p in combinations(placed, k) if sizes[child] * np.prod([sizes[q] for q in p]) <= max_cells
            ]
            if sets or k == 0:
                out += [(child, p) for p in (sets or [[]])]
                break
    return out


def _joint(codes: list[np.ndarray], sizes: list[int], child: int, parents: list[int]) -> np.ndarray:
    """True counts as a (parent configurations x child groups) table."""
    configs = int(np.prod([sizes[p] for p in parents])) if parents else 1
    if parents:
        index = np.ravel_multi_index(tuple(codes[p] for p in parents), tuple(sizes[p] for p in parents))
    else:
        index = np.zeros(codes[child].size, dtype=np.int64)
    flat = np.bincount(index * sizes[child] + codes[child], minlength=configs * sizes[child])
    return flat.reshape(configs, sizes[child]).astype(np.float64)


def _score(codes: list[np.ndarray], sizes: list[int], marginals: list[np.ndarray], child: int, parents: list[int]):
    """L1 distance of the true (parents, child) counts from the child's noisy marginal times the parents' true
    counts: 0 for independence; one row changes it by at most 2."""
    if not parents:
        return 0.0
    joint = _joint(codes, sizes, child, parents)
    expected = joint.sum(axis=1, keepdims=True) * marginals[child][None, :]
    return float(np.abs(joint - expected).sum())


def _conditional(noisy: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    table = np.maximum(noisy, 0.0)
    sums = table.sum(axis=1, keepdims=True)
    return np.where(sums > 0, table / np.where(sums > 0, sums, 1.0), fallback[None, :])


def check_params(epsilon: object, delta: object, rows: int) -> None:
    _, delta_ = check_epsilon_delta(epsilon, delta)
    if rows > 0 and delta_ >= 1.0 / rows:
        raise InputError(f"delta must be below 1/n = {1.0 / rows:.3g} for a table of {rows:,} rows, got {delta_:g}")
