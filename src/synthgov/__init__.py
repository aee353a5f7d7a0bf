"""synthgov: accountable synthetic tabular data.

Quick start::

    import synthgov
    s = synthgov.synthesizer("copula", seed=0).fit(df)
    synthetic = s.sample(1000)

Heavy modules are imported on first use, so ``import synthgov`` and ``synthgov --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

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
