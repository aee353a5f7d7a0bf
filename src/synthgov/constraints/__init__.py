"""Declared rules over columns: a safe, vectorised expression language (used by the rules generator today,
and by constraints and value reinforcement)."""

from synthgov.constraints.expressions import Expression

__all__ = ["Expression"]
