"""Exceptions that synthgov raises for problems a user can fix.

Every user mistake (a missing file, a schema that does not match the data, an unknown column in a condition)
raises a subclass of :class:`SynthgovError` with a one-line message. The CLI prints that line and exits with
code 2 (3 for a refusal by a guard or a policy, 4 for a release refused by the privacy budget); it never shows a
traceback for them.
"""

from __future__ import annotations


class SynthgovError(Exception):
    """Base class of synthgov's own errors."""

    exit_code = 2  # what the CLI exits with


class RefusedError(SynthgovError):
    """A guard or a policy refused the operation (for example training on synthetic data); exit code 3."""

    exit_code = 3


class BudgetError(SynthgovError):
    """A DP release would take its source past the privacy budget the policy allows; exit code 4."""

    exit_code = 4


class InputError(SynthgovError, ValueError):
    """The input (a file, a table, a parameter, a condition) is not usable."""


class SchemaError(InputError):
    """A schema is invalid or does not match the data."""


class NotFittedError(SynthgovError, RuntimeError):
    """A synthesizer was asked to sample or save before it was fitted."""


class ModelFileError(InputError):
    """A saved model file is unreadable, corrupt or of an unsupported version."""
