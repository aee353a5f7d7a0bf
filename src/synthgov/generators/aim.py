"""AIM (McKenna, Mullins, Sheldon & Miklau 2022): differentially private synthetic data from adaptively selected
marginals, each chosen where the current model errs most on a workload, measured with Gaussian noise, and fitted
into a graphical model.

The workload is every set of ``degree`` columns (all three-way marginals by default); the candidates are its
downward closure (every set of one to ``degree`` columns). The zCDP budget rho:

1. **one-way marginals** (:data:`ONE_WAY_SHARE` of rho): every column's counts on its public cells with Gaussian
   noise (:func:`synthgov.privacy.cells.measure_one_way`, as ``mst``: the same domain compression and cells);
2. **rounds**, the rest, each split as in the paper: a tenth to **selection** (the exponential mechanism over the
   candidates whose addition keeps the model within its size budget, scored by w_r (||M_r(D) - M_r(p)||_1 -
   sqrt(2/pi) sigma n_r), sensitivity max w_r, w_r the workload's overlap with r) and nine tenths to the
   **measurement** of the chosen marginal with Gaussian noise. The first rounds are planned as 16 d of equal
   cost; when a new measurement moves its marginal less than the noise would (the paper's test), sigma halves and
   the selection's epsilon doubles (annealing); the last round spends exactly what remains.

The model size budget grows with the budget spent (AIM's rule: a share of ``max_cells`` equal to the share of
rho spent), so the model is never larger than ``max_cells`` cells (the paper's 80 MB is 10,000,000; the default
here is smaller, which bounds the time of each estimation). After each round the graphical model
(:mod:`synthgov.generators.graphical_model`) is refitted from every noisy measurement, starting from the previous
fit; a final fit runs up to ``iterations`` steps. Rows, values inside cells and conditions are drawn as ``mst``
draws them (:mod:`synthgov.privacy.sampling`): post-processing of noisy counts only.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.generators.base import Synthesizer, check_rows, new_seed
from synthgov.generators.graphical_model import Clique, GraphicalModel, estimate, model_cells
from synthgov.generators.tree_model import Measurement
from synthgov.privacy import domain_estimation as estimation
from synthgov.privacy.accounting import ACCOUNTANT, cdp_rho, check_epsilon_delta
from synthgov.privacy.cells import OneWay, dp_schema, loss_summary, measure_one_way
from synthgov.privacy.domains import table_domains
from synthgov.privacy.mechanisms import exponential_choice, gaussian_counts
from synthgov.privacy.sampling import sample_frame
from synthgov.table.io import TableLike, read_table
from synthgov.table.schema import Schema

logger = logging.getLogger(__name__)

MECHANISM = (
    "AIM (McKenna et al. 2022): Gaussian one-way marginals, then rounds of exponential-mechanism selection of a "
    "workload marginal and its Gaussian measurement, with annealing"
)
ONE_WAY_SHARE = 0.1  # of rho, on the one-way marginals that fix the cells and the domain compression
SELECTION_SHARE = 0.1  # of each round's rho, on selection (the paper's alpha = 0.9 on measurement)
ROUND_ITERATIONS = 50  # estimation steps after each round (warm-started); the final fit runs ``iterations``


class AIMSynthesizer(Synthesizer):
    """Differentially private AIM.

    Parameters
    ----------
    seed:
        Seed of every random step, noise included (``None``: fresh entropy, recorded in ``seed_``).
    epsilon, delta:
        The privacy guarantee of the fitted model ((epsilon, delta)-DP; accounted in zCDP).
    degree:
        The workload: every set of ``degree`` columns (1 to 3).
    max_cells:
        Largest size of the graphical model (cells of its junction tree).
    bins:
        Most groups a numeric column is modelled with (cells merged by equal noisy mass).
    iterations:
        Most mirror-descent steps of the final estimation.
    domain_share:
        Share of the budget spent on estimating the domains of columns the schema does not declare public
        (:mod:`synthgov.privacy.domain_estimation`); ``None``: every domain must be declared.
    """

    name = "aim"
    rules_replace_whole_rows = True
    is_private = True  # every fit is differentially private

    def __init__(
        self,
        *,
        seed: int | None = None,
        epsilon: float = 1.0,
        delta: float = 1e-5,
        degree: int = 3,
        max_cells: int = 250_000,
        bins: int = 16,
        iterations: int = 1000,
        domain_share: float | None = None,
    ) -> None:
        super().__init__(seed=seed)
        self.epsilon = epsilon
        self.delta = delta
        self.degree = degree
        self.max_cells = max_cells
        self.bins = bins
        self.iterations = iterations
        self.domain_share = domain_share

    # -- the budget -----------------------------------------------------------------------------------
    def budget_lines(self, columns: int, numeric: int = 0, categorical: int = 0) -> list[dict[str, Any]]:
        """The itemised zCDP budget of a fit on ``columns`` columns, ``numeric`` and ``categorical`` of them with
        domains to estimate. It composes to (epsilon, delta) and depends on nothing but the parameters and the
        schema: however many rounds the annealing makes, each splits its rho in the same shares."""
        epsilon, delta = check_epsilon_delta(self.epsilon, self.delta)
        rho = cdp_rho(epsilon, estimation.other_lines_delta(delta, categorical))
        if columns < 2:
            lines = [{"part": "one-way marginals", "mechanism": "Gaussian", "rho": rho}]
        else:
            one_way = rho * ONE_WAY_SHARE
            selection = (rho - one_way) * SELECTION_SHARE
            lines = [
                {"part": "one-way marginals", "mechanism": "Gaussian", "rho": one_way},
                {"part": "marginal selection", "mechanism": "exponential", "rho": selection},
                {"part": "selected marginals", "mechanism": "Gaussian", "rho": rho - one_way - selection},
            ]
        share = estimation.check_share(self.domain_share)
        return estimation.with_domain_line(lines, share, numeric, categorical, float(delta))

    def privacy(self) -> dict[str, Any]:
        """The fitted model's privacy statement (the manifest's section)."""
        self._check_fitted()
        names = self.schema_.names
        return {
            "epsilon": float(self.epsilon),
            "delta": float(self.delta),
            "rho": float(sum(line["rho"] for line in self.budget_lines_)),
            "accountant": ACCOUNTANT,
            "mechanism": MECHANISM,
            "lines": self.budget_lines_,
            "domains": estimation.domain_sources(self.domains_, self.estimated_domains_, self.budget_lines_),
            "neighbours": "add or remove one row",
            "loss": loss_summary(self.domains_, self.groups_, {"one-way marginals": self.one_way_sd_}),
            "rounds": [
                {"columns": [names[v] for v in clique], "noise_sd_rows": float(sd)} for clique, sd in self.rounds_
            ],
        }

    # -- fit ------------------------------------------------------------------------------------------
    def fit(self, table: TableLike, schema: Schema | str | Path | None = None) -> Self:
        return self._fit_or_forget(self._fit, table, schema)

    def _check_params(self, rows: int) -> None:
        _, delta = check_epsilon_delta(self.epsilon, self.delta)
        if rows > 0 and delta >= 1.0 / rows:
            raise InputError(f"delta must be below 1/n = {1.0 / rows:.3g} for a table of {rows:,} rows, got {delta:g}")
        for name, low in (("bins", 1), ("iterations", 1), ("max_cells", 1), ("degree", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if self.degree > 3:
            raise InputError(f"degree must be 1, 2 or 3 (the workload's marginals), got {self.degree}")
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
        self.schema_ = schema_
        self.estimated_domains_ = numeric + categorical
        self.domains_ = one.domains
        self.groups_ = one.groups
        self.within_ = one.within
        self.total_ = float(one.total)
        self.budget_lines_ = lines
        self.one_way_sd_ = float(np.sqrt(len(names) / (2.0 * lines[0]["rho"])))
        self.rounds_: list[tuple[Clique, float]] = []
        self.model_ = self._select_and_estimate(one, rng)
        self._unseeded_calls = 0
        self.fit_seconds_ = time.perf_counter() - started

    def _select_and_estimate(self, one: OneWay, rng: np.random.Generator) -> GraphicalModel:
        """AIM's rounds from the one-way measurements (recording each in ``rounds_``), then the final estimation."""
        d, lines = len(one.sizes), self.budget_lines_
        measurements = [Measurement((j,), one.counts[j], 1.0 / one.variances[j]) for j in range(d)]
        model = GraphicalModel(one.sizes, [(j,) for j in range(d)])
        model.theta = [np.log(np.maximum(m.y, 1e-3 * one.total / m.y.size) / one.total) for m in measurements]
        if d >= 2:
            rounds = _Rounds(one.codes, one.sizes, one.total, self.degree, self.max_cells, rng)
            model = rounds.run(model, measurements, lines[1]["rho"] + lines[2]["rho"], self.rounds_)
        with progress.step("estimate: graphical model from the noisy marginals"):
            return estimate(model, measurements, one.total, iterations=self.iterations)

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
        masks = {j: np.arange(self.model_.sizes[j]) == group for j, group in evidence.items()}
        return self.model_.sample(n, rng, masks)

    # -- persistence ----------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "seed_": self.seed_,
            "fit_seconds_": self.fit_seconds_,
            "total_": self.total_,
            "schema": self.schema_.to_dict(),
            "budget_lines": self.budget_lines_,
            "estimated_domains": list(self.estimated_domains_),
            "groups": list(self.groups_),
            "within": list(self.within_),
            "one_way_sd": self.one_way_sd_,
            "rounds": [{"clique": list(c), "sd": sd} for c, sd in self.rounds_],
            "model": {
                "sizes": list(self.model_.sizes),
                "cliques": [list(c) for c in self.model_.cliques],
                "theta": list(self.model_.theta),
            },
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        schema = Schema.from_dict(state["schema"])
        model = state["model"]
        self.schema_ = schema
        self.domains_ = table_domains(schema)
        self.groups_ = [np.asarray(g, dtype=np.int64) for g in state["groups"]]
        self.within_ = [np.asarray(w, dtype=np.float64) for w in state["within"]]
        self.model_ = GraphicalModel(
            [int(k) for k in model["sizes"]],
            [tuple(int(v) for v in c) for c in model["cliques"]],
            [np.asarray(t, dtype=np.float64) for t in model["theta"]],
        )
        self.budget_lines_ = [dict(line) for line in state["budget_lines"]]
        self.estimated_domains_ = [str(name) for name in state.get("estimated_domains", [])]
        self.one_way_sd_ = float(state["one_way_sd"])
        self.rounds_ = [(tuple(int(v) for v in r["clique"]), float(r["sd"])) for r in state["rounds"]]
        self.total_ = float(state["total_"])
        self.fit_seconds_ = float(state["fit_seconds_"])
        self.seed_ = int(state["seed_"])
        self._unseeded_calls = 0


class _Rounds:
    """AIM's adaptive rounds over the candidates (the workload's downward closure) on the rows' group codes."""

    def __init__(
        self,
        codes: list[np.ndarray],
        sizes: list[int],
        total: float,
        degree: int,
        max_cells: int,
        rng: np.random.Generator,
    ) -> None:
        d = len(sizes)
        self.codes, self.sizes, self.total, self.max_cells, self.rng = codes, sizes, total, max_cells, rng
        workload = [tuple(c) for c in itertools.combinations(range(d), min(degree, d))]
        self.candidates: list[Clique] = sorted(
            {tuple(s) for w in workload for k in range(1, len(w) + 1) for s in itertools.combinations(w, k)},
            key=lambda c: (len(c), c),
        )
        self.weights = np.array([sum(len(set(r) & set(w)) for w in workload) for r in self.candidates], float)
        self.cells = np.array([math.prod(sizes[v] for v in r) for r in self.candidates], float)
        self._counts: dict[Clique, np.ndarray] = {}

    def counts(self, clique: Clique) -> np.ndarray:
        """The exact counts of ``clique`` (feeding the mechanisms only)."""
        if clique not in self._counts:
            shape = [self.sizes[v] for v in clique]
            flat = np.ravel_multi_index(tuple(self.codes[v] for v in clique), shape)
            self._counts[clique] = np.bincount(flat, minlength=math.prod(shape)).reshape(shape).astype(np.float64)
        return self._counts[clique]

    def run(
        self,
        model: GraphicalModel,
        measurements: list[Measurement],
        rho: float,
        rounds: list[tuple[Clique, float]],
    ) -> GraphicalModel:
        """Rounds until ``rho`` is spent, each appending its measurement and (clique, sigma) to the lists."""
        planned = 16 * len(self.sizes)
        round_rho = rho / planned
        sigma = math.sqrt(1.0 / (2.0 * (1.0 - SELECTION_SHARE) * round_rho))
        epsilon = math.sqrt(8.0 * SELECTION_SHARE * round_rho)
        used = 0.0
        model = estimate(model, measurements, self.total, iterations=ROUND_ITERATIONS)
        with progress.step("select and measure: AIM rounds (exponential mechanism, Gaussian noise)") as advance:
            while used < rho:
                cost = 1.0 / (2.0 * sigma**2) + epsilon**2 / 8.0
                if rho - used <= 2.0 * cost:  # the last round spends exactly what remains
                    rest = rho - used
                    sigma = math.sqrt(1.0 / (2.0 * (1.0 - SELECTION_SHARE) * rest))
                    epsilon = math.sqrt(8.0 * SELECTION_SHARE * rest)
                    used = rho
                else:
                    used += cost
                clique = self._select(model, sigma, epsilon, self.max_cells * used / rho)
                y = gaussian_counts(self.counts(clique), sigma, self.rng)
                measurements.append(Measurement(clique, y, np.full(y.shape, 1.0 / sigma**2)))
                rounds.append((clique, sigma))
                before = model.marginal(model.beliefs(), clique)
                model = estimate(model.with_clique(clique), measurements, self.total, iterations=ROUND_ITERATIONS)
                after = model.marginal(model.beliefs(), clique)
                if self.total * np.abs(after - before).sum() <= math.sqrt(2.0 / math.pi) * sigma * y.size:
                    sigma /= 2.0  # the model barely moved: measure more precisely from now on (annealing)
                    epsilon *= 2.0
                advance()
        logger.debug("aim: %d rounds, model of %d cells", len(rounds), model.cells)
        return model

    def _select(self, model: GraphicalModel, sigma: float, epsilon: float, size_limit: float) -> Clique:
        """One candidate by the exponential mechanism among those that keep the model within ``size_limit``."""
        beliefs = model.beliefs()
        held = [set(c) for c in model.tree.cliques]
        allowed, scores = [], []
        for k, clique in enumerate(self.candidates):
            inside = any(set(clique) <= c for c in held)
            if not inside and model_cells(self.sizes, [*model.cliques, clique]) > size_limit:
                continue
            error = np.abs(self.counts(clique) - self.total * model.marginal(beliefs, clique)).sum()
            allowed.append(k)
            scores.append(self.weights[k] * (error - math.sqrt(2.0 / math.pi) * sigma * self.cells[k]))
        sensitivity = float(self.weights[allowed].max())
        pick = allowed[exponential_choice(np.array(scores), epsilon, sensitivity, self.rng)]
        return self.candidates[pick]
