"""Conditional vectors over the categorical columns, shared by the GAN and the VAE.

A conditional vector has one one-hot block per categorical column; a block of zeros means "not given". CTGAN's
training-by-sampling (Xu et al. 2019) picks one column per row uniformly, a category by its log-frequency and a
real row holding it, so rare categories are seen often enough; we vectorise it (per-column row orders and
offsets, no Python loop per row) and extend it: other categorical columns of the same real row are revealed
at random too, so that the model learns to honour several given columns at once and conditional sampling on
any set of categorical columns is native.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class CategoryConditions:
    def __init__(self, codes: np.ndarray, sizes: list[int]) -> None:
        self.sizes = list(sizes)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes else np.zeros(0, int)
        self.width = int(sum(sizes))
        n, d = codes.shape
        self.n = n
        smax = max(sizes) if sizes else 1
        self.orders = np.argsort(codes, axis=0, kind="stable").T.copy()  # (d, n): rows sorted by category
        counts = np.zeros((d, smax), dtype=np.int64)
        for k in range(d):
            counts[k, : sizes[k]] = np.bincount(codes[:, k], minlength=sizes[k])
        self.counts = counts
        self.starts = np.cumsum(counts, axis=1) - counts
        log_freq = np.where(counts > 0, np.log(counts + 1.0), 0.0)
        self.log_cum = np.cumsum(log_freq / np.maximum(log_freq.sum(1, keepdims=True), 1e-12), axis=1)

    @property
    def active(self) -> bool:
        return self.width > 0

    def training_by_sampling(self, b: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(real rows, conditioned column, category) for ``b`` rows, CTGAN's log-frequency scheme."""
        cols = rng.integers(0, len(self.sizes), b)
        cats = np.minimum((rng.random(b)[:, None] > self.log_cum[cols]).sum(1), np.array(self.sizes)[cols] - 1)
        within = np.floor(rng.random(b) * self.counts[cols, cats]).astype(np.int64)
        rows = self.orders[cols, self.starts[cols, cats] + within]
        return rows, cols, cats

    @staticmethod
    def random_reveal(b: int, d: int, rng: np.random.Generator, share_none: float = 0.5) -> np.ndarray:
        """A random subset of columns per row: none for ``share_none`` of the rows, else each column with a
        probability drawn in [0, 0.5)."""
        q = np.where(rng.random(b) < share_none, 0.0, rng.random(b) * 0.5)
        return rng.random((b, d)) < q[:, None]

    def vectors(self, given: torch.Tensor) -> torch.Tensor:
        return condition_vectors(given, self.sizes)


def condition_vectors(given: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """(B, Dc) codes with -1 = not given -> (B, sum(sizes)) conditional vectors."""
    import torch

    out = torch.zeros(given.shape[0], int(sum(sizes)), device=given.device)
    if not sizes:
        return out
    offsets = torch.as_tensor(np.concatenate([[0], np.cumsum(sizes)[:-1]]), device=given.device)
    rows, cols = torch.nonzero(given >= 0, as_tuple=True)
    out[rows, offsets[cols] + given[rows, cols]] = 1.0
    return out


def draw_given_by_frequency(frequencies: list[np.ndarray], b: int, rng: np.random.Generator) -> np.ndarray:
    """CTGAN's conditional vector for unconditional sampling: per row one random column, a category drawn by its
    frequency; returns (b, columns) codes with -1 = not given."""
    d = len(frequencies)
    cols = rng.integers(0, d, b)
    given = np.full((b, d), -1, dtype=np.int64)
    for k in range(d):
        rows = np.flatnonzero(cols == k)
        given[rows, k] = rng.choice(frequencies[k].size, size=rows.size, p=frequencies[k])
    return given
