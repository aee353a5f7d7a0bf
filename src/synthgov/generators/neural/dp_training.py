"""DP-SGD training (Abadi et al. 2016) for a network whose ``losses_and_norms(tokens, known)`` returns each row's
loss and the squared norm of each row's gradient.

Every step: Poisson sampling (each training row in the batch with probability ``sample_rate``, from the seeded
numpy generator); each row's gradient norm without forming the row's gradient ("ghost" norms; per-row gradients
with ``torch.func`` took 2.9 s per step of 1,600 rows on Adult, this 0.1 s), so each row's weight
``min(1, clip / norm)`` clips its gradient to L2 norm ``clip``; one backward pass of the weighted loss gives the
sum of the clipped gradients; Gaussian noise of sd ``noise_multiplier * clip`` is added, the sum divided by the
expected batch size (from the noisy row count: post-processing), then one optimiser step. Rows go through the
network in chunks of :data:`CHUNK` so memory stays bounded on large tables. The accounting is
:mod:`synthgov.privacy.dp_sgd`; it is charged for every step, so a run stopped early by ``max_seconds`` spent no
more than its ledger line says.

Nothing computed from the rows leaves this loop except through the noisy gradients: no validation split, no early
stopping or learning-rate decay on a loss, no best-weights restore, and no losses in the training report (they
would be statistics of the data in the model file).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from synthgov import progress
from synthgov.generators.neural.training import TrainingReport

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

#: at most this many rows per forward and backward pass (a Poisson batch is cut in chunks)
CHUNK = 4096
#: and at most this many floats in a chunk's widest activation (the (rows, D, D * embedding) regressor inputs of the
#: autoregressive network: 256 MiB; a 200-column table gets chunks of about 100 rows)
CHUNK_FLOATS = 2**26


def chunk_rows(floats_per_row: int) -> int:
    """Rows per chunk for a network whose widest activation holds ``floats_per_row`` floats per row."""
    return max(1, min(CHUNK, CHUNK_FLOATS // max(1, floats_per_row)))


def train_private(
    *,
    network: torch.nn.Module,
    tokens: torch.Tensor,
    known_mask: Callable[[int], torch.Tensor],
    optimiser: torch.optim.Optimizer,
    sample_rate: float,
    steps: int,
    noise_multiplier: float,
    clip: float,
    expected_batch: float,
    rng: np.random.Generator,
    generator: torch.Generator,
    max_seconds: float | None,
    description: str,
    chunk: int = CHUNK,
) -> TrainingReport:
    """Run ``steps`` DP-SGD steps on ``tokens`` (rows x columns); ``known_mask(b)`` draws the (b, D, D) known-columns
    masks of b rows (a random column order per row)."""
    import torch

    report = TrainingReport(stopped="epochs")
    started = time.perf_counter()
    n = tokens.shape[0]
    parameters = list(network.parameters())
    network.train()
    with progress.step(f"train: {description}", total=steps) as advance:
        for step in range(1, steps + 1):
            rows = np.flatnonzero(rng.random(n) < sample_rate)
            optimiser.zero_grad(set_to_none=False)
            for start in range(0, rows.size, chunk):
                part = torch.as_tensor(rows[start : start + chunk], device=tokens.device)
                x = tokens[part]
                losses, norms2 = network.losses_and_norms(x, known_mask(x.shape[0]))
                factor = (clip / (norms2.sqrt() + 1e-6)).clamp(max=1.0)
                (losses * factor).sum().backward()  # adds this chunk's clipped row gradients to .grad
            with torch.no_grad():
                for p in parameters:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
                    noise = torch.normal(
                        0.0, noise_multiplier * clip, size=p.shape, generator=generator, device=p.device
                    )
                    p.grad.add_(noise).div_(expected_batch)
            optimiser.step()
            report.epochs_run = step
            advance(1)
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                report.stopped = "time"
                logger.info("DP-SGD stopped by its time budget after %d of %d steps", step, steps)
                break
    network.eval()
    report.best_epoch = report.epochs_run
    report.seconds = time.perf_counter() - started
    return report
