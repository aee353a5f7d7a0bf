"""The training loop shared by the neural generators: epochs (as in SDV, so runs compare), a time budget,
early stopping on a validation loss with the best weights restored, and a progress bar with the loss.

A generator supplies ``train_batch(rows) -> loss`` (one optimisation step on those training rows) and
``validate() -> loss`` (lower is better; ``None`` where the model has none), and may pass a
``ReduceLROnPlateau`` scheduler, stepped on every validation loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from synthgov import progress

if TYPE_CHECKING:
    import torch


@dataclass
class TrainingReport:
    epochs_run: int = 0
    best_epoch: int = 0
    stopped: str = "epochs"  # "epochs", "early" (validation stopped improving) or "time" (max_seconds)
    precision: str = "float32"  # arithmetic of the training steps (torch_utils.resolve_precision)
    seconds: float = 0.0
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)

    def to_state(self) -> dict[str, Any]:
        return asdict(self)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def time_left(elapsed: float, epoch: int, epochs: int, max_seconds: float | None) -> str:
    """What is left of the training, said honestly: the remaining epochs at the pace so far, capped by what is left
    of the time budget (early stopping may end it sooner)."""
    by_pace = elapsed / epoch * (epochs - epoch)
    if max_seconds is not None and max_seconds - elapsed < by_pace:
        return f"at most {_duration(max(0.0, max_seconds - elapsed))} left (time budget)"
    return f"at most {_duration(by_pace)} left"


def train(
    *,
    module: torch.nn.Module,
    train_batch: Callable[[torch.Tensor], float],
    validate: Callable[[], float | None],
    n_rows: int,
    batch_size: int,
    epochs: int,
    max_seconds: float | None,
    patience: int | None,
    generator: torch.Generator,
    description: str,
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None,
) -> TrainingReport:
    import torch

    report = TrainingReport()
    started = time.perf_counter()
    best_loss, best_state = math.inf, None
    steps = max(1, n_rows // batch_size)
    limit = f"up to {epochs} epochs" + (f" or {_duration(max_seconds)}" if max_seconds is not None else "")
    # the bar advances per batch (an epoch of a large table can take minutes), in epochs
    with progress.step(f"train: {description}, {limit}", total=epochs) as advance:
        for epoch in range(1, epochs + 1):
            module.train()
            order = torch.randperm(n_rows, generator=generator)
            total, timed_out = 0.0, False
            for i in range(steps):
                total += train_batch(order[i * batch_size : (i + 1) * batch_size])
                if i + 1 < steps:
                    advance(1 / steps)
                if max_seconds is not None and time.perf_counter() - started > max_seconds:
                    timed_out = True
                    break
            report.train_loss.append(total / (i + 1))
            module.eval()
            with torch.no_grad():
                val = validate()
            report.epochs_run = epoch
            elapsed = time.perf_counter() - started
            info = f"epoch {epoch}/{epochs} loss {report.train_loss[-1]:.4f}"
            if val is not None:
                report.validation_loss.append(float(val))
                info += f"  validation {val:.4f}"
                if val < best_loss - 1e-4:
                    best_loss, report.best_epoch = val, epoch
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                if scheduler is not None:
                    scheduler.step(val)
            else:
                report.best_epoch = epoch
            info += f"; {time_left(elapsed, epoch, epochs, max_seconds)}"
            advance(1 / steps, info)
            if timed_out:
                report.stopped = "time"
                break
            if patience is not None and val is not None and epoch - report.best_epoch >= patience:
                report.stopped = "early"
                break
    if best_state is not None and report.best_epoch != report.epochs_run:
        module.load_state_dict(best_state)
    module.eval()
    report.seconds = time.perf_counter() - started
    return report
