"""The shared data transformer of the neural generators.

Every modelled column is already a marginal on the uniform scale (:mod:`synthgov.generators.marginals`:
missing values, datetimes, categories and numbers alike). From there a neural model sees either

* **tokens** (all columns): categories by code, numbers by value (at most ``bins`` distinct values) or by
  equal-frequency bins that keep point masses whole, missing values as a token of their own
  (:mod:`synthgov.generators.discretise`); the autoregressive model and the diffusion model's categorical part
  use them; or
* **normal scores** ``z = Phi^-1(u)`` of the randomised probability integral transform for numeric columns (a
  quantile transform, as in TabDDPM; a point mass becomes an interval of ``z`` that decodes back to the atom,
  a missing value the lowest interval) plus category codes for categorical columns.

Both are two dense arrays: ``(rows, columns)`` integers and ``(rows, numeric columns)`` floats, so memory grows
with rows and with categories but never with their product (one-hot vectors are built per batch).
Decoding goes back to the uniform scale; the table transformer does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from synthgov.generators.discretise import category_edges, numeric_tokens, token_of, uniform_in_token
from synthgov.generators.marginals import CategoricalMarginal
from synthgov.generators.transformer import TableTransformer

_EPS = 1e-6
Z_LIMIT = float(special.ndtri(1 - _EPS))


@dataclass
class ColumnEncoding:
    columns: list[str]
    categorical: np.ndarray  # bool per column
    edges: list[np.ndarray]  # token intervals on the uniform scale, per column
    missing: np.ndarray  # share of missing values per column (numbers; 0 for categories, whose gaps are a code)

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, transformer: TableTransformer, columns: list[str], bins: int
    ) -> tuple[ColumnEncoding, np.ndarray]:
        """The encoding and the ``(rows, columns)`` token matrix of ``frame``."""
        tokens = np.empty((len(frame), len(columns)), dtype=np.int64)
        edges, categorical, missing = [], [], []
        for j, name in enumerate(columns):
            marginal = transformer.marginals[name]
            if isinstance(marginal, CategoricalMarginal):
                tokens[:, j] = marginal.encode(frame[name])
                edges.append(category_edges(marginal))
                categorical.append(True)
                missing.append(0.0)
            else:
                tokens[:, j], col_edges = numeric_tokens(frame[name], transformer, name, bins, exact=True)
                edges.append(col_edges)
                categorical.append(False)
                missing.append(float(marginal.p_missing))
        encoding = cls(
            columns=list(columns),
            categorical=np.array(categorical, dtype=bool),
            edges=edges,
            missing=np.array(missing, dtype=np.float64),
        )
        return encoding, tokens

    # -- shape ------------------------------------------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        return [int(e.size - 1) for e in self.edges]

    @property
    def numeric_index(self) -> np.ndarray:
        return np.flatnonzero(~self.categorical)

    @property
    def categorical_index(self) -> np.ndarray:
        return np.flatnonzero(self.categorical)

    @property
    def flag_index(self) -> np.ndarray:
        """Numeric columns with missing values: each gets a missing-value indicator in the mixed encoding."""
        return np.flatnonzero(~self.categorical & (self.missing > 0))

    @property
    def mixed_sizes(self) -> list[int]:
        """Sizes of the categorical blocks of the mixed encoding: categorical columns, then missing flags."""
        return [self.sizes[j] for j in self.categorical_index] + [2] * len(self.flag_index)

    # -- tokens <-> uniforms -----------------------------------------------------------------------
    def tokens_of(self, uniforms: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(uniforms.values())))
        out = np.empty((n, len(self.columns)), dtype=np.int64)
        for j, name in enumerate(self.columns):
            out[:, j] = token_of(self.edges[j], uniforms[name])
        return out

    def token_of_interval(self, j: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return token_of(self.edges[j], (np.asarray(lo) + np.asarray(hi)) / 2)

    def uniforms_from_tokens(self, tokens: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {name: uniform_in_token(self.edges[j], tokens[:, j], rng) for j, name in enumerate(self.columns)}

    # -- normal scores (continuous models) -------------------------------------------------------
    @staticmethod
    def normal_scores(u: np.ndarray) -> np.ndarray:
        return special.ndtri(np.clip(u, _EPS, 1 - _EPS)).astype(np.float32)

    def mixed(self, uniforms: dict[str, np.ndarray], tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(normal scores of the numeric columns, codes of the categorical columns then missing flags). A number's
        score is that of its place among the present values; a missing one gets flag 1 and a score drawn from the
        normal law (its place within the missing share), so scores carry no missingness threshold to blur."""
        n = tokens.shape[0]
        z = np.zeros((n, len(self.numeric_index)), dtype=np.float32)
        flags = np.zeros((n, len(self.flag_index)), dtype=np.int64)
        for k, j in enumerate(self.numeric_index):
            u, p = uniforms[self.columns[j]], self.missing[j]
            z[:, k] = self.place_scores(j, u)
            if p > 0:
                flags[:, list(self.flag_index).index(j)] = u < p
        return z, np.concatenate([tokens[:, self.categorical_index], flags], axis=1)

    def place_scores(self, j: int, u: np.ndarray) -> np.ndarray:
        """The normal scores that :meth:`mixed` gives uniforms ``u`` of numeric column j: a present value's place
        among the present values (a missing one's within the missing share), not its place on the full scale."""
        u, p = np.asarray(u, dtype=np.float64), self.missing[j]
        return self.normal_scores(np.where(u < p, u / max(p, 1e-300), (u - p) / max(1 - p, 1e-300)) if p > 0 else u)

    def given_mixed(self, given_tokens: np.ndarray, intervals_mid: dict[str, np.ndarray]) -> np.ndarray:
        """Given codes in the mixed encoding (-1 = free) from given tokens and the given numbers' uniforms."""
        flags = np.full((given_tokens.shape[0], len(self.flag_index)), -1, dtype=np.int64)
        for f, j in enumerate(self.flag_index):
            name = self.columns[j]
            if name in intervals_mid:
                flags[:, f] = intervals_mid[name] < self.missing[j]
        return np.concatenate([given_tokens[:, self.categorical_index], flags], axis=1)

    def uniforms_from_mixed(self, z: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        n_cat = len(self.categorical_index)
        for k, j in enumerate(self.numeric_index):
            inner = special.ndtr(np.asarray(z[:, k], dtype=np.float64))
            p = self.missing[j]
            if p > 0:
                flag = codes[:, n_cat + list(self.flag_index).index(j)] == 1
                inner = np.where(flag, p * inner, p + (1 - p) * inner)
            out[self.columns[j]] = inner
        for k, j in enumerate(self.categorical_index):
            out[self.columns[j]] = uniform_in_token(self.edges[j], codes[:, k], rng)
        return out

    # -- state ------------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {"columns": self.columns, "categorical": self.categorical, "edges": self.edges, "missing": self.missing}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ColumnEncoding:
        return cls(
            columns=list(state["columns"]),
            categorical=np.asarray(state["categorical"], dtype=bool),
            edges=[np.asarray(e, dtype=np.float64) for e in state["edges"]],
            missing=np.asarray(state["missing"], dtype=np.float64),
        )
