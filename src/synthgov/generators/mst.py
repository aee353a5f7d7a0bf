"""MST (McKenna, Miklau & Sheldon 2021): differentially private synthetic data from a maximum spanning tree of
noisy two-way marginals, with the privacy budget split in three equal zCDP parts as in the paper:

1. **one-way marginals**: every column's counts on its public cells (:mod:`synthgov.privacy.domains`) with
   Gaussian noise (all d tables at one sigma);
2. **selection**: d - 1 rounds of the exponential mechanism (Kruskal's algorithm), each choosing among the pairs
   that join two parts of the forest, scored by how badly the one-way model explains the pair's true counts
   (L1 error; sensitivity 1);
3. **two-way marginals** of the chosen edges with Gaussian noise.

Everything after a measurement is post-processing and costs nothing: cells whose noisy count is below three
sigma are compressed into one group (MST's domain compression, so rare categories are modelled without revealing
that they exist), numeric cells are merged into at most ``bins`` groups of about equal noisy mass, the tree model is
estimated from the noisy marginals (:mod:`synthgov.generators.tree_model`), rows are drawn i.i.d. from it, and a
number's value inside its group is drawn from the noisy one-way counts of the fine cells, then uniformly in its
cell: never from the exact training values, and never a bin midpoint.

The only facts about the data that the model uses outside the budget are the declared public domains (the schema,
``public: true``) and the number of columns. Parameters: ``epsilon`` and ``delta`` (the (epsilon, delta)-DP
guarantee of the fitted model, through zCDP), ``bins``, ``iterations`` of the estimation.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.generators.base import Synthesizer, check_rows, new_seed
from synthgov.generators.tree_model import Measurement, TreeModel, estimate
from synthgov.privacy import domain_estimation as estimation
from synthgov.privacy.accounting import ACCOUNTANT, check_epsilon_delta, split_in_thirds
from synthgov.privacy.cells import dp_schema, loss_summary, measure_one_way
from synthgov.privacy.domains import table_domains
from synthgov.privacy.mechanisms import exponential_choice, gaussian_counts, sigma_for
from synthgov.privacy.sampling import sample_frame
from synthgov.table.io import TableLike, read_table
from synthgov.table.schema import Schema

logger = logging.getLogger(__name__)

PARTS = (("tree selection", "exponential"), ("two-way marginals", "Gaussian"))
MECHANISM = "MST (McKenna et al. 2021): Gaussian one- and two-way marginals, exponential-mechanism tree selection"


class MSTSynthesizer(Synthesizer):
    """Differentially private MST.

    Parameters
    ----------
    seed:
        Seed of every random step, noise included (``None``: fresh entropy, recorded in ``seed_``).
    epsilon, delta:
        The privacy guarantee of the fitted model ((epsilon, delta)-DP; accounted in zCDP).
    bins:
        Most groups a numeric column is modelled with (cells merged by equal noisy mass).
    iterations:
        Most mirror-descent steps of the estimation.
    domain_share:
        Share of the budget spent on estimating the domains (numeric bounds, categories) of columns the schema does
        not declare public (:mod:`synthgov.privacy.domain_estimation`); ``None``: every domain must be declared.
    """

    name = "mst"
    rules_replace_whole_rows = True

    def __init__(
        self,
        *,
        seed: int | None = None,
        epsilon: float = 1.0,
        delta: float = 1e-5,
        bins: int = 16,
        iterations: int = 3000,
        domain_share: float | None = None,
    ) -> None:
        super().__init__(seed=seed)
        self.epsilon = epsilon
        self.delta = delta
        self.bins = bins
        self.iterations = iterations
        self.domain_share = domain_share

    is_private = True  # every fit is differentially private

    # -- the budget -----------------------------------------------------------------------------------
    def budget_lines(self, columns: int, numeric: int = 0, categorical: int = 0) -> list[dict[str, Any]]:
        """The itemised zCDP budget of a fit on ``columns`` columns, ``numeric`` and ``categorical`` of them with
        domains to estimate: what each part of the data costs. It composes to (epsilon, delta) and depends on
        nothing but the parameters and the schema."""
        delta = estimation.other_lines_delta(float(self.delta), categorical)
        lines = split_in_thirds(self.epsilon, delta, columns, PARTS)
        share = estimation.check_share(self.domain_share)
        return estimation.with_domain_line(lines, share, numeric, categorical, float(self.delta))

    def privacy(self) -> dict[str, Any]:
        """The fitted model's privacy statement (the manifest's section)."""
        self._check_fitted()
        return {
            "epsilon": float(self.epsilon),
            "delta": float(self.delta),
            "rho": float(sum(line["rho"] for line in self.budget_lines_)),
            "accountant": ACCOUNTANT,
            "mechanism": MECHANISM,
            "lines": self.budget_lines_,
            "domains": estimation.domain_sources(self.domains_, self.estimated_domains_, self.budget_lines_),
            "neighbours": "add or remove one row",
            "loss": loss_summary(self.domains_, self.groups_, self._noise_sd()),
        }

    def _noise_sd(self) -> dict[str, float]:
        d = len(self.domains_)
        noise = {"one-way marginals": sigma_for(d, self.budget_lines_[0]["rho"])}
        if d >= 2:
            noise["two-way marginals"] = sigma_for(d - 1, self.budget_lines_[2]["rho"])
        return noise

    # -- fit ------------------------------------------------------------------------------------------
    def fit(self, table: TableLike, schema: Schema | str | Path | None = None) -> Self:
        return self._fit_or_forget(self._fit, table, schema)

    def _check_params(self, rows: int) -> None:
        _, delta = check_epsilon_delta(self.epsilon, self.delta)
        if rows > 0 and delta >= 1.0 / rows:
            raise InputError(f"delta must be below 1/n = {1.0 / rows:.3g} for a table of {rows:,} rows, got {delta:g}")
        if isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 1:
            raise InputError(f"bins must be a positive integer, got {self.bins!r}")
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1:
            raise InputError(f"iterations must be a positive integer, got {self.iterations!r}")
        estimation.check_share(self.domain_share)

    def _fit(self, table: TableLike, schema: Schema | str | Path | None) -> None:
        started = time.perf_counter()
        frame = read_table(table)
        schema_ = dp_schema(frame, schema)
        self._check_params(len(frame))
        names = schema_.names
        numeric, categorical = estimation.check_schema(schema_, estimation.check_share(self.domain_share))
        lines = self.budget_lines(len(names), len(numeric), len(categorical))
        self.seed_ = self.seed if self.seed is not None else new_seed()
        rng = np.random.default_rng([self.seed_, 0])
        schema_ = estimation.estimate(frame, schema_, numeric, categorical, lines[-1], rng)
        with progress.step("measure: one-way marginals (Gaussian noise)"):
            one = measure_one_way(frame, table_domains(schema_), lines[0]["rho"], self.bins, rng)
            measurements = [Measurement((i,), one.counts[i], 1.0 / one.variances[i]) for i in range(len(names))]
        self.schema_ = schema_
        self.estimated_domains_ = numeric + categorical
        self.domains_ = one.domains
        self.groups_ = one.groups
        self.within_ = one.within
        self.total_ = float(one.total)
        self.budget_lines_ = lines
        self.tree_ = self._select_and_estimate(one.codes, one.sizes, measurements, rng)
        self._unseeded_calls = 0
        self.fit_seconds_ = time.perf_counter() - started

    def _select_and_estimate(
        self, codes: list[np.ndarray], sizes: list[int], measurements: list[Measurement], rng: np.random.Generator
    ) -> TreeModel:
        """Steps 2 and 3 of MST (the tree by the exponential mechanism, its two-way marginals), then the
        estimation of the tree model from every noisy marginal."""
        d, lines, total = len(codes), self.budget_lines_, self.total_
        edges: list[tuple[int, int]] = []
        if d >= 2:
            with progress.step("select: maximum spanning tree (exponential mechanism)", total=d - 1) as advance:
                chosen = _select(codes, sizes, measurements, total, lines[1]["rho"], rng, advance)
            edges = _orient(chosen, d)
            with progress.step("measure: two-way marginals on the tree (Gaussian noise)"):
                sigma2 = sigma_for(len(edges), lines[2]["rho"])
                for u, v in edges:
                    counts = np.bincount(codes[u] * sizes[v] + codes[v], minlength=sizes[u] * sizes[v])
                    y = gaussian_counts(counts.reshape(sizes[u], sizes[v]), sigma2, rng)
                    measurements.append(Measurement((u, v), y, np.full(y.shape, 1.0 / sigma2**2)))
        with progress.step("estimate: tree model from the noisy marginals"):
            start = [np.log(np.maximum(m.y, 1e-3 * total / m.y.size) / total) for m in measurements[:d]]
            return estimate(sizes, edges, measurements, total, iterations=self.iterations, start=start)

    # -- sample ---------------------------------------------------------------------------------------
    def sample(self, n: int, seed: int | None = None, conditions: Any = None) -> pd.DataFrame:
        """``n`` rows. ``conditions``: {column: value} for every row, or a DataFrame of n rows (one per row)."""
        self._check_fitted()
        n = check_rows(n, len(self.schema_.names))
        rng = self._sample_rng(seed)
        with progress.step(f"generate: {n:,} rows", total=n) as advance:
            frame = sample_frame(
                n, rng, conditions, self.schema_, self.domains_, self.groups_, self.within_, self._draw_groups
            )
            advance(n)
        return frame

    def _draw_groups(self, n: int, rng: np.random.Generator, evidence: dict[int, int]) -> np.ndarray:
        masks = {j: np.arange(self.tree_.sizes[j]) == group for j, group in evidence.items()}
        return self.tree_.sample(n, rng, masks)

    # -- persistence ----------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        tree = self.tree_
        return {
            "seed_": self.seed_,
            "fit_seconds_": self.fit_seconds_,
            "total_": self.total_,
            "schema": self.schema_.to_dict(),
            "budget_lines": self.budget_lines_,
            "estimated_domains": list(self.estimated_domains_),
            "groups": list(self.groups_),
            "within": list(self.within_),
            "tree": {
                "sizes": list(tree.sizes),
                "edges": [list(e) for e in tree.edges],
                "node_theta": list(tree.node_theta),
                "edge_theta": list(tree.edge_theta),
            },
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        schema = Schema.from_dict(state["schema"])
        self.schema_ = schema
        self.domains_ = table_domains(schema)
        self.groups_ = [np.asarray(g, dtype=np.int64) for g in state["groups"]]
        self.within_ = [np.asarray(w, dtype=np.float64) for w in state["within"]]
        tree = state["tree"]
        self.tree_ = TreeModel(
            [int(k) for k in tree["sizes"]],
            [(int(u), int(v)) for u, v in tree["edges"]],
            [np.asarray(t, dtype=np.float64) for t in tree["node_theta"]],
            [np.asarray(t, dtype=np.float64) for t in tree["edge_theta"]],
        )
        self.budget_lines_ = [dict(line) for line in state["budget_lines"]]
        self.estimated_domains_ = [str(name) for name in state.get("estimated_domains", [])]
        self.total_ = float(state["total_"])
        self.fit_seconds_ = float(state["fit_seconds_"])
        self.seed_ = int(state["seed_"])
        self._unseeded_calls = 0


# -- MST's selection and the tree's orientation ------------------------------------------------------------
def _select(
    codes: list[np.ndarray],
    sizes: list[int],
    one_way: list[Measurement],
    total: float,
    rho: float,
    rng: np.random.Generator,
    advance: Any,
) -> list[tuple[int, int]]:
    """Kruskal's algorithm with each edge chosen by the exponential mechanism (MST's selection)."""
    d = len(codes)
    marginals = []
    for m in one_way:
        p = np.maximum(m.y, 0.0)
        marginals.append(p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / p.size))
    pairs = [(u, v) for u in range(d) for v in range(u + 1, d)]
    scores = np.empty(len(pairs))
    for k, (u, v) in enumerate(pairs):
        counts = np.bincount(codes[u] * sizes[v] + codes[v], minlength=sizes[u] * sizes[v])
        expected = total * np.outer(marginals[u], marginals[v]).ravel()
        scores[k] = np.abs(counts - expected).sum()
    epsilon = float(np.sqrt(8.0 * rho / (d - 1)))
    component = list(range(d))
    chosen: list[tuple[int, int]] = []
    for _ in range(d - 1):
        open_ = [k for k, (u, v) in enumerate(pairs) if component[u] != component[v]]
        pick = open_[exponential_choice(scores[open_], epsilon, 1.0, rng)]
        u, v = pairs[pick]
        old, new = component[v], component[u]
        component = [new if c == old else c for c in component]
        chosen.append((u, v))
        advance()
    return chosen


def _orient(pairs: list[tuple[int, int]], d: int) -> list[tuple[int, int]]:
    """The tree's edges as (parent, child), rooted at column 0, parents before children."""
    neighbours: dict[int, list[int]] = {v: [] for v in range(d)}
    for u, v in pairs:
        neighbours[u].append(v)
        neighbours[v].append(u)
    edges, seen, queue = [], {0}, [0]
    while queue:
        u = queue.pop(0)
        for v in sorted(neighbours[u]):
            if v not in seen:
                seen.add(v)
                edges.append((u, v))
                queue.append(v)
    return edges
