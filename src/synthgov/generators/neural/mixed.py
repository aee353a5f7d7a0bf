"""Helpers for the models that see a row as one vector: normal scores of the numeric columns followed by one
one-hot block per categorical column (built per batch, never for the whole table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class MixedLayout:
    def __init__(self, n_numeric: int, sizes: list[int]) -> None:
        self.n_numeric = n_numeric
        self.sizes = list(sizes)
        self.offsets = n_numeric + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes else []
        self.width = n_numeric + int(sum(sizes))
        self.slices = [slice(int(o), int(o) + s) for o, s in zip(self.offsets, self.sizes, strict=True)]

    def vectors(self, z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        import torch

        out = torch.zeros(z.shape[0], self.width, device=z.device)
        out[:, : self.n_numeric] = z
        if self.sizes:
            out.scatter_(1, codes + torch.as_tensor(self.offsets, device=z.device), 1.0)
        return out

    def categorical_loss(self, logits: torch.Tensor, codes: torch.Tensor, weight: torch.Tensor | None = None):
        """Sum over categorical columns of the cross-entropy (mean over rows, or weighted by ``weight`` (B, Dc))."""
        from torch.nn import functional

        total = logits.new_zeros(())
        for k, s in enumerate(self.slices):
            ce = functional.cross_entropy(logits[:, s], codes[:, k], reduction="none")
            total = total + (ce.mean() if weight is None else (ce * weight[:, k]).sum() / weight.shape[0])
        return total

    def draw_categories(self, logits: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        import torch

        from synthgov.generators.neural.torch_utils import sample_categorical

        out = np.zeros((logits.shape[0], len(self.sizes)), dtype=np.int64)
        for k, s in enumerate(self.slices):
            probs = torch.softmax(logits[:, s].double(), 1).cpu().numpy()
            out[:, k] = sample_categorical(probs, rng)
        return out
