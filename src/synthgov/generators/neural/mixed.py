"""Helpers for the models that see a row as one vector: normal scores of the numeric columns followed by one
one-hot block per categorical column (built per batch, never for the whole table).

The per-block operations (softmax, Gumbel-softmax, cross-entropy) run on all blocks at once on the unpadded
(rows, categories) logits: block sums are one product with a (categories x blocks) indicator matrix, block
maxima (for stability, no gradient) one ``scatter_reduce`` (6x faster on a CPU than gathering the blocks into a
padded array, which took an eighth of a TVAE step). A step thus costs a few tensor operations instead of a few per
categorical column. Layers that read one-hot codes (:func:`codes_linear`) take them as indices and build the
one-hot matrix per batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class MixedLayout:
    def __init__(self, n_numeric: int, sizes: list[int]) -> None:
        self.n_numeric = n_numeric
        self.sizes = list(sizes)
        self.n_categories = int(sum(sizes))
        self.relative = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes else np.zeros(0, int)
        self.offsets = n_numeric + self.relative
        self.width = n_numeric + self.n_categories
        self.slices = [slice(int(o), int(o) + s) for o, s in zip(self.offsets, self.sizes, strict=True)]
        self._cache: dict[str, dict[str, torch.Tensor]] = {}

    def _t(self, device: torch.device) -> dict[str, torch.Tensor]:
        import torch

        key = str(device)
        if key not in self._cache:
            block_of = np.repeat(np.arange(len(self.sizes)), np.asarray(self.sizes, dtype=np.int64))
            indicator = np.zeros((self.n_categories, len(self.sizes)), dtype=np.float32)
            indicator[np.arange(self.n_categories), block_of] = 1.0
            self._cache[key] = {
                "block_of": torch.as_tensor(block_of, device=device),
                "indicator": torch.as_tensor(indicator, device=device),
                "relative": torch.as_tensor(self.relative, device=device),
            }
        return self._cache[key]

    # -- one-hot vectors and their cells ---------------------------------------------------------------
    def vectors(self, z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        import torch

        out = torch.zeros(z.shape[0], self.width, device=z.device)
        out[:, : self.n_numeric] = z
        if self.sizes:
            out.scatter_(1, codes + self._t(z.device)["relative"] + self.n_numeric, 1.0)
        return out

    def cells(self, codes: torch.Tensor, base: int = 0, padding: int | None = None) -> torch.Tensor:
        """:class:`CodesLinear` indices of the hot cells of (B, K) codes: ``base`` + the category's position
        among all categories; codes < 0 (not given) point to ``padding`` (a cell whose weights stay zero)."""
        import torch

        cells = codes + self._t(codes.device)["relative"] + base
        if padding is not None:
            cells = torch.where(codes >= 0, cells, torch.full_like(cells, padding))
        return cells

    # -- block-wise softmax family -------------------------------------------------------------------------
    def _block_max(self, x: torch.Tensor) -> torch.Tensor:
        t = self._t(x.device)
        out = x.new_full((x.shape[0], len(self.sizes)), float("-inf"))
        return out.scatter_reduce_(1, t["block_of"].expand(x.shape[0], -1), x.detach(), "amax")

    def log_softmax(self, x: torch.Tensor) -> torch.Tensor:
        """Log-softmax within each block of (B, n_categories) logits, in float32 (also under autocast, which
        would otherwise run the block sums' product in bfloat16)."""
        import torch

        t = self._t(x.device)
        with torch.autocast(x.device.type, enabled=False):
            x = x.float() if x.dtype in (torch.bfloat16, torch.float16) else x
            shifted = x - self._block_max(x).index_select(1, t["block_of"])
            log_sums = (shifted.exp() @ t["indicator"].to(x.dtype)).log()
            return shifted - log_sums.index_select(1, t["block_of"])

    def softmax(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_softmax(x).exp()

    def gumbel_softmax(self, logits: torch.Tensor, tau: float) -> torch.Tensor:
        """Gumbel-softmax (Jang et al. 2017) of every categorical block at once: (B, width) -> (B, categories)."""
        import torch

        x = logits[:, self.n_numeric :]
        uniform = torch.rand(x.shape, device=x.device).clamp_(1e-10, 1.0 - 1e-7)
        return self.softmax((x - torch.log(-torch.log(uniform))) / tau)

    def category_columns(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, K) codes -> their columns among all categories (in ``logits[:, n_numeric:]``)."""
        return codes + self._t(codes.device)["relative"]

    def categorical_loss(self, logits: torch.Tensor, codes: torch.Tensor, weight: torch.Tensor | None = None):
        """Sum over categorical columns of the cross-entropy (mean over rows, or weighted by ``weight`` (B, Dc))."""
        if not self.sizes:
            return logits.new_zeros(())
        log_probs = self.log_softmax(logits[:, self.n_numeric :])
        ce = -log_probs.gather(1, self.category_columns(codes))  # (B, K)
        if weight is None:
            return ce.mean(0).sum()
        return (ce * weight).sum() / weight.shape[0]

    def block_log_probs(self, logits: torch.Tensor) -> list[np.ndarray]:
        """Per categorical block, the (rows, categories) log-probabilities of (rows, width) ``logits`` (float64)."""
        log_probs = self.log_softmax(logits[:, self.n_numeric :].double()).cpu().numpy()
        return [log_probs[:, start : start + size] for start, size in zip(self.relative, self.sizes, strict=True)]

    def tilt_offsets(self, logits: torch.Tensor, targets: list[np.ndarray]) -> list[np.ndarray]:
        """Per block, the offsets that make the mean tilted probabilities of these rows equal the block's target
        frequencies (:func:`.marginal_matching.tilt_offsets`; categories with no mass get ``NEVER``)."""
        from synthgov.generators.neural.marginal_matching import tilt_offsets

        blocks = self.block_log_probs(logits)
        return [tilt_offsets(block, target) for block, target in zip(blocks, targets, strict=True)]

    def draw_categories(
        self,
        logits: torch.Tensor,
        rng: np.random.Generator,
        offsets: list[np.ndarray] | None = None,
        matched: np.ndarray | None = None,
    ) -> np.ndarray:
        """One code per categorical block and row, drawn from the softmax of ``logits``; with ``offsets`` (one
        array per block), the rows selected by ``matched`` (bool, default all) draw with the offsets added to
        their log-probabilities (:mod:`.marginal_matching`)."""
        from synthgov.generators.neural.marginal_matching import softmax_rows
        from synthgov.generators.neural.torch_utils import sample_categorical

        out = np.zeros((logits.shape[0], len(self.sizes)), dtype=np.int64)
        if not self.sizes:
            return out
        if offsets is not None and matched is None:
            matched = np.ones(len(out), dtype=bool)
        for k, block in enumerate(self.block_log_probs(logits)):
            if offsets is not None and matched is not None and matched.any():
                block[matched] += offsets[k]
            out[:, k] = sample_categorical(softmax_rows(block), rng)
        return out


def codes_linear(dense_in: int, n_cells: int, out: int) -> torch.nn.Module:
    """A linear layer over ``[dense, one-hot cells]``: ``forward(dense, cells)`` with ``cells`` (B, L) hot-cell
    indices in ``[0, n_cells]`` (``n_cells`` = not given: no cell).

    The one-hot matrix is built per batch from the indices and meets one dense product with the dense part. An
    embedding bag (adding the hot cells' weight rows) computes the same function with fewer operations but was
    measured slower on 2 CPU cores (TVAE on Adult: 0.35 vs 0.30 s per epoch): gathering L rows of weights per
    row costs more memory traffic than a small dense product.
    """
    import torch
    from torch import nn

    class CodesLinear(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(dense_in + n_cells, out)

        def forward(self, dense: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
            hot = torch.zeros(cells.shape[0], n_cells + 1, device=cells.device, dtype=dense.dtype)
            hot.scatter_(1, cells, 1.0)
            return self.linear(torch.cat([dense, hot[:, :n_cells]], 1))

    return CodesLinear()
