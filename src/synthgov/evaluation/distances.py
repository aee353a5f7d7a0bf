"""Nearest neighbours under a Gower-style mixed distance: numbers scaled to [0, 1] by the real range (L1),
categories 1 when different (missing is a value of its own). Brute force in chunks: numbers by broadcasting,
categories by one-hot products (BLAS)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgov.evaluation.prepare import Encoding


class MixedNeighbors:
    def __init__(self, encoding: Encoding, candidates: pd.DataFrame, columns: list[str] | None = None) -> None:
        self.encoding = encoding
        keep_num = [i for i, c in enumerate(encoding.numeric) if columns is None or c in columns]
        keep_cat = [c for c in encoding.categorical if columns is None or c in columns]
        self._num_idx = keep_num
        self._cat_cols = keep_cat
        self._num = encoding.numbers(candidates)[:, keep_num].astype(np.float32)
        self._hot = self._one_hot(candidates)

    def _one_hot(self, frame: pd.DataFrame) -> np.ndarray:
        enc = self.encoding
        codes = enc.codes(frame)
        blocks = []
        for j, c in enumerate(enc.categorical):
            if c not in self._cat_cols:
                continue
            size = len(enc.categories[c]) + 1
            block = np.zeros((len(frame), size), dtype=np.float32)
            block[np.arange(len(frame)), codes[:, j]] = 1.0
            blocks.append(block)
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0), dtype=np.float32)

    def kneighbors(self, queries: pd.DataFrame, k: int = 1, chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices (each ``len(queries) x k``, nearest first)."""
        q_num = self.encoding.numbers(queries)[:, self._num_idx].astype(np.float32)
        q_hot = self._one_hot(queries)
        n_cat = len(self._cat_cols)
        k = min(k, len(self._num) if self._num.size else len(self._hot))
        dist = np.empty((len(queries), k), dtype=np.float64)
        index = np.empty((len(queries), k), dtype=np.int64)
        for start in range(0, len(queries), chunk):
            stop = min(start + chunk, len(queries))
            d = np.zeros((stop - start, max(len(self._num), len(self._hot))), dtype=np.float32)
            if self._num.shape[1]:
                d += np.abs(q_num[start:stop, None, :] - self._num[None, :, :]).sum(axis=2)
            if n_cat:
                d += n_cat - q_hot[start:stop] @ self._hot.T
            part = (
                np.argpartition(d, k - 1, axis=1)[:, :k]
                if k < d.shape[1]
                else np.tile(np.arange(d.shape[1]), (d.shape[0], 1))
            )
            part_d = np.take_along_axis(d, part, axis=1)
            order = np.argsort(part_d, axis=1, kind="stable")
            index[start:stop] = np.take_along_axis(part, order, axis=1)
            dist[start:stop] = np.take_along_axis(part_d, order, axis=1)
        return dist, index
