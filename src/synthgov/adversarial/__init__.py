"""Adversarial training data (issue 21, part 3): constrained attacks on a classifier trained on a table, rows that
keep the schema, the value rules and the immutable columns, adversarial retraining with correctly labelled
versions, and the robustness report (``synthgov adversarial``, docs/governance.md)."""

from synthgov.adversarial.hardening import harden

__all__ = ["harden"]
