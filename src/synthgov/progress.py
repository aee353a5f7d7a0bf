"""A tiny progress-reporting seam between library code and the user interface.

Library code reports named steps (``with progress.step("fit copula", total=n) as advance: ...``); by default
nothing is shown. The CLI installs a reporter that draws rich progress bars, so long work is visible without the
library depending on a terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Protocol


class Reporter(Protocol):
    def start(self, description: str, total: float | None) -> object: ...

    def advance(self, handle: object, amount: float, info: str | None = None) -> None: ...

    def finish(self, handle: object) -> None: ...


_reporter: ContextVar[Reporter | None] = ContextVar("synthgov_reporter", default=None)

Advance = Callable[..., None]


@contextlib.contextmanager
def step(description: str, total: float | None = None) -> Iterator[Advance]:
    """Report one named step; yields ``advance(amount=1, info=None)``."""
    reporter = _reporter.get()
    if reporter is None:
        yield lambda amount=1, info=None: None
        return
    handle = reporter.start(description, total)
    try:
        yield lambda amount=1, info=None: reporter.advance(handle, amount, info)
    finally:
        reporter.finish(handle)


@contextlib.contextmanager
def use_reporter(reporter: Reporter | None) -> Iterator[None]:
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
