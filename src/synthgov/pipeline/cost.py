"""What a release cost, measured per stage: wall time, CPU time, GPU time and the process's peak memory, each
with the method that measured it (the manifest states the method beside the figure)."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

WATTS_PER_CPU_CORE = 15.0  # the energy estimate: CPU seconds x a typical per-core draw (an estimate, named so)

METHODS = {
    "wall_seconds": "time.perf_counter around each stage",
    "cpu_seconds": "time.process_time around each stage (CPU time of every thread of this process)",
    "gpu_seconds": "wall time of the stages whose model ran on a CUDA device, torch.cuda.synchronize() at both "
    "ends (an upper bound on the device's busy time); 0 when no GPU was used",
    "energy_wh": f"estimate: CPU seconds x {WATTS_PER_CPU_CORE:g} W per core; GPU energy not included",
}


def peak_memory_mb() -> tuple[float | None, str]:
    """The process's peak resident memory so far, and how it was read; (None, reason) where it cannot be."""
    try:
        import resource  # POSIX only
    except ImportError:
        try:
            import psutil  # type: ignore[import-not-found]  # Windows: psutil's peak working set
        except ImportError:
            return None, "not measured (no getrusage on this system and psutil is not installed)"
        peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
        if peak is None:
            return None, "not measured (psutil reports no peak working set here)"
        return peak / 2**20, "psutil.Process().memory_info().peak_wset (peak working set)"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes on macOS, kibibytes on Linux and the BSDs
        return peak / 2**20, "getrusage(RUSAGE_SELF).ru_maxrss in bytes (peak resident set of this process)"
    return peak / 2**10, "getrusage(RUSAGE_SELF).ru_maxrss in KiB (peak resident set of this process)"


def _on_cuda(model: Any) -> bool:
    device = str(getattr(model, "device_", "") or "")
    return device.startswith("cuda")


def _synchronize() -> None:
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


@dataclass
class Meter:
    """Per-stage timings of one release; :meth:`summary` is the manifest's ``compute`` section."""

    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str, model: Callable[[], Any] | None = None) -> Iterator[None]:
        """Time the block as stage ``name``; ``model()`` (asked at the end) tells whether it ran on a GPU."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            gpu = model is not None and _on_cuda(model())
            if gpu:
                _synchronize()
            seconds = time.perf_counter() - wall
            self.stages[name] = {
                "wall_seconds": round(seconds, 3),
                "cpu_seconds": round(time.process_time() - cpu, 3),
                "gpu_seconds": round(seconds, 3) if gpu else 0.0,
            }
            logger.debug("stage %s: %s", name, self.stages[name])

    def seconds(self, name: str) -> float:
        return self.stages.get(name, {}).get("wall_seconds", 0.0)

    def summary(self) -> dict[str, Any]:
        totals = {k: round(sum(s[k] for s in self.stages.values()), 3) for k in METHODS if k != "energy_wh"}
        peak, peak_method = peak_memory_mb()
        return {
            **totals,
            "peak_memory_mb": None if peak is None else round(peak, 1),
            "energy_wh": round(totals["cpu_seconds"] * WATTS_PER_CPU_CORE / 3600, 6),
            "stages": dict(self.stages),
            "methods": {
                **METHODS,
                "peak_memory_mb": peak_method,
                "scope": "the stages before signing (" + ", ".join(self.stages) + "); signing and recording run "
                "after these figures are fixed",
            },
        }
