"""Quality assessment of synthetic data: fidelity, edge cases, utility, privacy risk and bias, with a report."""

from synthgov.evaluation.evaluate import EvaluationResult, evaluate

__all__ = ["EvaluationResult", "evaluate"]
