"""synthgov: accountable synthetic tabular data.

Quick start::

    import synthgov
    s = synthgov.synthesizer("copula", seed=0).fit(df)
    synthetic = s.sample(1000)

Heavy modules are imported on first use, so ``import synthgov`` and ``synthgov --help`` stay fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# OpenMP threads (PyTorch's, scikit-learn's) that wait for work spin by default. On a machine shared with other
# work a spinning thread holds a core that the thread it waits for needs: 8,000 Adult rows, 3 epochs of the
# default generator took 67 s instead of 6 s on 2 cores beside 2 busy processes, and 12 s with passive waiting,
# which costs nothing measurable on a quiet machine (benchmarks/shared_machine.py). Set before torch is first
# imported (OpenMP reads it once); a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = [
    "Schema",
    "Synthesizer",
    "__version__",
    "available_generators",
    "evaluate",
    "infer_schema",
    "load",
    "load_demo",
    "read_table",
    "synthesizer",
]

if TYPE_CHECKING:  # pragma: no cover
    from synthgov.generators.base import Synthesizer
    from synthgov.table.schema import Schema


def synthesizer(name: str | None = None, **params: Any) -> Synthesizer:
    """A generator by name, e.g. ``synthesizer("copula", seed=0)``; default: the best quality per second."""
    from synthgov.generators import registry

    return registry.synthesizer(name or registry.DEFAULT_GENERATOR, **params)


def available_generators() -> dict[str, str]:
    from synthgov.generators import registry

    return registry.available()


def load(path: Any) -> Synthesizer:
    """Load a model saved with ``Synthesizer.save`` (JSON + npz, never pickle)."""
    from synthgov.generators.base import Synthesizer

    return Synthesizer.load(path)


def evaluate(real: Any, synthetic: Any, holdout: Any = None, **options: Any) -> Any:
    """Fidelity, edge cases, utility, privacy risk and bias of ``synthetic`` against ``real``; see
    :func:`synthgov.evaluation.evaluate` for the options (target, sensitive, quick, out, ...)."""
    from synthgov.evaluation import evaluate as run

    return run(real, synthetic, holdout, **options)


def __getattr__(name: str) -> Any:
    if name == "Synthesizer":
        from synthgov.generators.base import Synthesizer

        return Synthesizer
    if name == "Schema":
        from synthgov.table.schema import Schema

        return Schema
    if name == "infer_schema":
        from synthgov.table.infer import infer_schema

        return infer_schema
    if name == "read_table":
        from synthgov.table.io import read_table

        return read_table
    if name == "load_demo":
        from synthgov.demo import load_demo

        return load_demo
    raise AttributeError(f"module 'synthgov' has no attribute {name!r}")
