"""A PrivBayes-style Bayesian network on discretised columns (Zhang et al., SIGMOD 2014 / TODS 2017).

Columns are discretised on the uniform scale of their marginals (categories as they are; numbers into at most
``bins`` bins of about equal frequency that never split a value, so a point mass such as ``capital-gain = 0`` is
one bin), the network is grown greedily: each step adds the column and parent set (at most ``degree`` parents
among the columns already placed) with the highest mutual information, less an AIC penalty for the size of its
conditional table (tables larger than twice the number of rows are not considered, so they cannot memorise
rows). Sampling is ancestral; a number is drawn inside its bin through the column's exact marginal, so every
marginal is reproduced exactly in expectation.

With ``epsilon`` it is PrivBayes, differentially private (:mod:`synthgov.generators.privbayes`): no shared
transformer (it learns exact marginals), public domains from the schema, noisy structure and tables.
Conditions use likelihood weighting with importance resampling: never a rejection loop.
"""

from __future__ import annotations

import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.generators import privbayes
from synthgov.generators.base import Intervals, TabularSynthesizer, check_rows, new_seed
from synthgov.generators.discretise import numeric_tokens
from synthgov.generators.marginals import CategoricalMarginal
from synthgov.generators.private_mode import PrivateMode
from synthgov.generators.transformer import category_intervals, codes_from_uniform
from synthgov.privacy import domain_estimation as estimation
from synthgov.privacy.accounting import ACCOUNTANT, split_in_thirds
from synthgov.privacy.cells import dp_schema, loss_summary
from synthgov.privacy.domains import table_domains
from synthgov.privacy.sampling import sample_frame
from synthgov.table.io import TableLike, read_table
from synthgov.table.schema import Schema


class BayesianNetworkSynthesizer(PrivateMode, TabularSynthesizer):
    """Bayesian network of degree ``degree`` over discretised columns.

    Parameters
    ----------
    seed:
        Seed of every random step (``None``: fresh entropy, recorded in ``seed_``).
    degree:
        Maximum number of parents per column (PrivBayes' k).
    bins:
        Maximum number of bins per numeric or datetime column.
    max_table_cells:
        Largest conditional table allowed (child values x parent configurations).
    oversample:
        Candidate draws per requested row for conditional sampling (importance resampling).
    epsilon, delta:
        With ``epsilon``: PrivBayes, (epsilon, delta)-DP in zCDP (needs a schema with public domains; ``bins`` then
        bounds a number's groups).
    domain_share:
        Private mode: share of the budget spent on estimating the domains of columns the schema does not declare
        public (:mod:`synthgov.privacy.domain_estimation`); ``None``: every domain must be declared.
    """

    name = "bayesnet"
    rules_replace_whole_rows = True

    def __init__(
        self,
        *,
        seed: int | None = None,
        degree: int = 2,
        bins: int = 20,
        max_table_cells: int = 100_000,
        oversample: int = 4,
        epsilon: float | None = None,
        delta: float = 1e-5,
        domain_share: float | None = None,
    ) -> None:
        super().__init__(seed=seed)
        self.degree = degree
        self.bins = bins
        self.max_table_cells = max_table_cells
        self.oversample = oversample
        self.epsilon = epsilon
        self.delta = delta
        self.domain_share = domain_share

    # -- the private mode (PrivBayes; synthgov.generators.private_mode) ---------------------------------
    def budget_lines(self, columns: int, numeric: int = 0, categorical: int = 0) -> list[dict[str, Any]]:
        """The itemised zCDP budget of a private fit on ``columns`` columns, ``numeric`` and ``categorical`` of them
        with domains to estimate (:mod:`synthgov.privacy.domain_estimation`)."""
        if not self.is_private:
            raise InputError("bayesnet is differentially private only with epsilon (PrivBayes mode)")
        delta = estimation.other_lines_delta(float(self.delta), categorical)
        lines = split_in_thirds(self.epsilon, delta, columns, privbayes.PARTS)
        share = estimation.check_share(self.domain_share)
        return estimation.with_domain_line(lines, share, numeric, categorical, float(self.delta))

    def _check_params(self, rows: int) -> None:
        privbayes.check_params(self.epsilon, self.delta, rows)
        estimation.check_share(self.domain_share)
        if not (isinstance(self.degree, int) and not isinstance(self.degree, bool) and self.degree >= 0):
            raise InputError(f"degree must be a non-negative integer, got {self.degree!r}")
        if not (isinstance(self.bins, int) and not isinstance(self.bins, bool) and self.bins >= 2):
            raise InputError(f"bins must be an integer >= 2, got {self.bins!r}")

    def privacy(self) -> dict[str, Any]:
        self._check_fitted()
        if not hasattr(self, "private_"):
            return {"mechanism": "none", "epsilon": None, "delta": None}
        return {
            "epsilon": float(self.epsilon),  # type: ignore[arg-type]
            "delta": float(self.delta),
            "rho": float(sum(line["rho"] for line in self.budget_lines_)),
            "accountant": ACCOUNTANT,
            "mechanism": privbayes.MECHANISM,
            "lines": self.budget_lines_,
            "domains": estimation.domain_sources(self.domains_, self.estimated_domains_, self.budget_lines_),
            "neighbours": "add or remove one row",
            "loss": loss_summary(
                self.domains_, self.private_.groups, privbayes.noise_sd(self.budget_lines_, len(self.domains_))
            ),
        }

    def _fit_private(self, table: TableLike, schema: Schema | str | Path | None) -> None:
        started = time.perf_counter()
        frame = read_table(table)
        schema_ = dp_schema(frame, schema)
        self._check_params(len(frame))
        numeric, categorical = estimation.check_schema(schema_, estimation.check_share(self.domain_share))
        lines = self.budget_lines(len(schema_.names), len(numeric), len(categorical))
        self.seed_ = self.seed if self.seed is not None else new_seed()
        rng = np.random.default_rng([self.seed_, 0])
        schema_ = estimation.estimate(frame, schema_, numeric, categorical, lines[-1], rng)
        model, one, lines = privbayes.fit(
            frame,
            table_domains(schema_),
            lines=lines,
            epsilon=self.epsilon,  # type: ignore[arg-type]
            delta=self.delta,
            degree=self.degree,
            bins=self.bins,
            rng=rng,
        )
        self.schema_ = schema_
        self.estimated_domains_ = numeric + categorical
        self.domains_ = one.domains
        self.private_ = model
        self.total_ = float(one.total)
        self.budget_lines_ = lines
        self._unseeded_calls = 0
        self.fit_seconds_ = time.perf_counter() - started

    def _sample_private(self, n: int, seed: int | None, conditions: Any) -> pd.DataFrame:
        n = check_rows(n, len(self.schema_.names))
        rng = self._sample_rng(seed)
        model = self.private_

        def draw_groups(rows: int, generator: np.random.Generator, evidence: dict[int, int]) -> np.ndarray:
            return model.sample_groups(rows, generator, evidence, max(int(self.oversample), 1))

        with progress.step(f"generate: {n:,} rows", total=n) as advance:
            frame = sample_frame(
                n, rng, conditions, self.schema_, self.domains_, model.groups, model.within, draw_groups
            )
            advance(n)
        return frame

    def _private_state(self) -> dict[str, Any]:
        return {
            "seed_": self.seed_,
            "fit_seconds_": self.fit_seconds_,
            "total_": self.total_,
            "schema": self.schema_.to_dict(),
            "budget_lines": self.budget_lines_,
            "estimated_domains": list(self.estimated_domains_),
            "private": self.private_.to_state(),
        }

    def _set_private_state(self, state: dict[str, Any]) -> None:
        self.schema_ = Schema.from_dict(state["schema"])
        self.domains_ = table_domains(self.schema_)
        self.private_ = privbayes.PrivBayesModel.from_state(state["private"])
        self.budget_lines_ = [dict(line) for line in state["budget_lines"]]
        self.estimated_domains_ = [str(name) for name in state.get("estimated_domains", [])]
        self.total_ = float(state["total_"])
        self.fit_seconds_ = float(state["fit_seconds_"])
        self.seed_ = int(state["seed_"])
        self._unseeded_calls = 0

    # -- fit -------------------------------------------------------------------------------------
    def _fit_model(self, frame: pd.DataFrame, rng: np.random.Generator) -> None:
        if not (isinstance(self.degree, int) and self.degree >= 0):
            raise InputError(f"degree must be a non-negative integer, got {self.degree!r}")
        if not (isinstance(self.bins, int) and self.bins >= 2):
            raise InputError(f"bins must be an integer >= 2, got {self.bins!r}")
        t = self.transformer_
        cols = self.model_columns_
        codes: dict[str, np.ndarray] = {}
        self.edges_: dict[str, np.ndarray] = {}
        with progress.step("encode: discretise columns"):
            for name in cols:
                marginal = t.marginals[name]
                if isinstance(marginal, CategoricalMarginal):
                    codes[name] = marginal.encode(frame[name])
                else:
                    codes[name], self.edges_[name] = numeric_tokens(frame[name], t, name, self.bins)
        self.sizes_ = {
            name: int(self.edges_[name].size - 1) if name in self.edges_ else t.marginals[name].size for name in cols
        }
        n = len(frame)
        with progress.step("train: network structure", total=len(cols)) as advance:
            self.network_ = self._structure(codes, n, advance)
        self.tables_ = [self._conditional(codes, child, parents) for child, parents in self.network_]

    def _structure(self, codes: dict[str, np.ndarray], n: int, advance: Any) -> list[tuple[str, list[str]]]:
        cols = list(codes)
        if not cols:
            return []
        # Root: the column with the largest total mutual information with the others.
        total = {c: sum(self._score(codes, c, [o], n, penalty=False) for o in cols if o != c) for c in cols}
        max_cells = min(self.max_table_cells, 2 * n)  # keep tables dense enough not to memorise rows
        root = max(cols, key=lambda c: (total[c], -cols.index(c)))
        network: list[tuple[str, list[str]]] = [(root, [])]
        placed, remaining = [root], [c for c in cols if c != root]
        advance()
        # Each step adds the (child, parent set) of highest score among every remaining child and every set of at
        # most ``degree`` placed columns. A set's score never changes, so each child keeps its best set so far and
        # a step scores only the sets that contain the column placed last: O(d^3) scores in all instead of O(d^4),
        # with the same choices as scoring everything each step (ties: larger sets first, then older sets, then
        # children in column order, as the full enumeration breaks them).
        best_for = {child: (0.0, ()) for child in remaining}  # the empty set: score 0, met last
        while remaining:
            newest, earlier = placed[-1], placed[:-1]
            position = {column: i for i, column in enumerate(placed)}
            for child in remaining:
                candidate = self._best_parents(codes, child, earlier, [newest], n, max_cells)
                if _precedes(candidate, best_for[child], position):
                    best_for[child] = candidate
            child = max(remaining, key=lambda c: (best_for[c][0], -remaining.index(c)))
            parents = list(best_for.pop(child)[1])
            network.append((child, parents))
            placed.append(child)
            remaining.remove(child)
            advance()
        return network

    def _best_parents(
        self, codes: dict[str, np.ndarray], child: str, earlier: list[str], newest: list[str], n: int, max_cells: int
    ) -> tuple[float, tuple[str, ...]]:
        """The first best-scoring parent set of ``child`` among the non-empty sets of at most ``degree`` columns
        of ``earlier + newest`` that contain ``newest``, in the full enumeration's order (larger sets first, then
        lexicographic by placement); ``(-inf, ())`` when every such set is too large."""
        best: tuple[float, tuple[str, ...]] = (-np.inf, ())
        for k in range(min(self.degree, len(earlier) + len(newest)), max(len(newest), 1) - 1, -1):
            for others in combinations(earlier, k - len(newest)):
                parents = (*others, *newest)
                cells = self.sizes_[child] * int(np.prod([self.sizes_[p] for p in parents]))
                if cells > max_cells:
                    continue
                score = self._score(codes, child, list(parents), n)
                if score > best[0]:
                    best = (score, parents)
        return best

    def _joint_index(self, codes: dict[str, np.ndarray], parents: list[str]) -> tuple[np.ndarray, int]:
        index = np.zeros(len(next(iter(codes.values()))), dtype=np.int64)
        size = 1
        for p in parents:
            index = index * self.sizes_[p] + codes[p]
            size *= self.sizes_[p]
        return index, size

    def _counts(self, codes: dict[str, np.ndarray], child: str, parents: list[str]) -> np.ndarray:
        """Joint counts (parent configuration x child value); the DP seam for noisy counts."""
        pidx, psize = self._joint_index(codes, parents)
        csize = self.sizes_[child]
        return (
            np.bincount(pidx * csize + codes[child], minlength=psize * csize).reshape(psize, csize).astype(np.float64)
        )

    def _score(
        self, codes: dict[str, np.ndarray], child: str, parents: list[str], n: int, penalty: bool = True
    ) -> float:
        """Mutual information I(child; parents) less an AIC penalty (free parameters / n); the DP seam for the
        exponential mechanism."""
        if not parents:
            return 0.0
        joint = self._counts(codes, child, parents) / n
        pc = joint.sum(axis=0, keepdims=True)
        pp = joint.sum(axis=1, keepdims=True)
        nz = joint > 0
        mi = float(np.sum(joint[nz] * np.log(joint[nz] / (pp @ pc)[nz])))
        if not penalty:
            return mi
        free = (np.count_nonzero(pp) - 1) * (np.count_nonzero(pc) - 1)
        return mi - free / n

    def _conditional(self, codes: dict[str, np.ndarray], child: str, parents: list[str]) -> np.ndarray:
        counts = self._counts(codes, child, parents)
        marginal = counts.sum(axis=0)
        marginal = marginal / marginal.sum()
        totals = counts.sum(axis=1, keepdims=True)
        # Parent configurations never seen fall back to the child's marginal.
        return np.where(totals > 0, counts / np.maximum(totals, 1), marginal)

    # -- sample ----------------------------------------------------------------------------------
    def _sample_uniforms(self, n: int, rng: np.random.Generator, fixed: Intervals) -> dict[str, np.ndarray]:
        t = self.transformer_
        fixed_codes = {name: self._code_of_interval(name, lo, hi) for name, (lo, hi) in fixed.items()}
        needs_weights = any(parents or name in fixed_codes for name, parents in self.network_ if name in fixed_codes)
        pool = n * max(int(self.oversample), 1) if fixed_codes and needs_weights else n
        codes: dict[str, np.ndarray] = {}
        log_w = np.zeros(pool)
        for (child, parents), table in zip(self.network_, self.tables_, strict=True):
            pidx, _ = self._joint_index(codes, parents) if parents else (np.zeros(pool, dtype=np.int64), 1)
            probs = table[pidx]
            if child in fixed_codes:
                value = fixed_codes[child]
                codes[child] = np.full(pool, value, dtype=np.int64)
                log_w += np.log(np.maximum(probs[:, value], 1e-300))
            else:
                cum = np.cumsum(probs, axis=1)
                draws = rng.random(pool)[:, None]
                codes[child] = np.minimum((draws > cum).sum(axis=1), probs.shape[1] - 1)
        if pool != n:
            w = np.exp(log_w - log_w.max())
            keep = rng.choice(pool, size=n, p=w / w.sum())
            codes = {k: v[keep] for k, v in codes.items()}
        out: dict[str, np.ndarray] = {}
        for name, c in codes.items():
            if name in fixed:
                lo, hi = fixed[name]
                out[name] = lo + rng.random(n) * (hi - lo)
            elif name in self.edges_:
                edges = self.edges_[name]
                out[name] = edges[c] + rng.random(n) * (edges[c + 1] - edges[c])
            else:
                lo, hi = category_intervals(t.marginals[name].probs, None)
                out[name] = lo[c] + rng.random(n) * (hi[c] - lo[c])
        return out

    def _code_of_interval(self, name: str, lo: float, hi: float) -> int:
        mid = (lo + hi) / 2
        if name in self.edges_:
            edges = self.edges_[name]
            return int(np.clip(np.searchsorted(edges, mid, side="right") - 1, 0, edges.size - 2))
        return int(codes_from_uniform(np.array([mid]), self.transformer_.marginals[name].probs, None)[0])

    # -- state -----------------------------------------------------------------------------------
    def _model_state(self) -> dict[str, Any]:
        return {
            "network": [[child, parents] for child, parents in self.network_],
            "tables": self.tables_,
            "edges": self.edges_,
            "sizes": self.sizes_,
        }

    def _set_model_state(self, state: dict[str, Any]) -> None:
        self.network_ = [(child, list(parents)) for child, parents in state["network"]]
        self.tables_ = [np.asarray(tab, dtype=np.float64) for tab in state["tables"]]
        self.edges_ = {k: np.asarray(v, dtype=np.float64) for k, v in state["edges"].items()}
        self.sizes_ = {k: int(v) for k, v in state["sizes"].items()}


def _precedes(
    candidate: tuple[float, tuple[str, ...]], current: tuple[float, tuple[str, ...]], position: dict[str, int]
) -> bool:
    """Whether ``candidate`` replaces a child's best parent set so far: a higher score, or an equal score and met
    earlier by the full enumeration (larger sets first, then lexicographic by placement order)."""
    if candidate[0] != current[0]:
        return candidate[0] > current[0]

    def rank(parents: tuple[str, ...]) -> tuple[int, tuple[int, ...]]:
        return (-len(parents), tuple(position[p] for p in parents))

    return bool(candidate[1]) and rank(candidate[1]) < rank(current[1])
