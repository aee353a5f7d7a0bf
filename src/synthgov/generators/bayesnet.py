"""A PrivBayes-style Bayesian network on discretised columns (Zhang et al., SIGMOD 2014 / TODS 2017).

Columns are discretised on the uniform scale of their marginals (categories as they are; numbers into at most
``bins`` bins of about equal frequency that never split a value, so a point mass such as ``capital-gain = 0`` is
one bin), the network is grown greedily: each step adds the column and parent set (at most ``degree`` parents
among the columns already placed) with the highest mutual information, less an AIC penalty for the size of its
conditional table (tables larger than twice the number of rows are not considered, so they cannot memorise
rows). Sampling is ancestral; a number is drawn inside its bin through the column's exact marginal, so every
marginal is reproduced exactly in expectation.

Differential privacy later plugs in at two seams, as in PrivBayes: ``_score`` (exponential mechanism over
candidate (column, parents) pairs) and ``_counts`` (Laplace noise on the tables the conditionals come from).
Conditions use likelihood weighting with importance resampling: never a rejection loop.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.generators.base import Intervals, TabularSynthesizer
from synthgov.generators.discretise import numeric_tokens
from synthgov.generators.marginals import CategoricalMarginal
from synthgov.generators.transformer import category_intervals, codes_from_uniform


class BayesianNetworkSynthesizer(TabularSynthesizer):
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
    """

    name = "bayesnet"

    def __init__(
        self,
        *,
        seed: int | None = None,
        degree: int = 2,
        bins: int = 20,
        max_table_cells: int = 100_000,
        oversample: int = 4,
    ) -> None:
        super().__init__(seed=seed)
        self.degree = degree
        self.bins = bins
        self.max_table_cells = max_table_cells
        self.oversample = oversample

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
        while remaining:
            best: tuple[float, str, list[str]] | None = None
            for child in remaining:
                for k in range(min(self.degree, len(placed)), -1, -1):
                    for parents in combinations(placed, k):
                        cells = self.sizes_[child] * int(np.prod([self.sizes_[p] for p in parents]))
                        if cells > max_cells and k > 0:
                            continue
                        score = self._score(codes, child, list(parents), n)
                        if best is None or score > best[0]:
                            best = (score, child, list(parents))
            assert best is not None
            _, child, parents = best
            network.append((child, parents))
            placed.append(child)
            remaining.remove(child)
            advance()
        return network

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
