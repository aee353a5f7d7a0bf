"""A tiny progress-reporting seam between library code and the user interface.

Library code reports named steps (``with progress.step("fit copula", total=n) as advance: ...``); by default
nothing is shown. The CLI installs a reporter that draws rich progress bars, so long work is visible without the
library depending on a terminal.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Protocol


class Reporter(Protocol):
    def start(self, description: str, total: float | None) -> object: ...

    def advance(self, handle: object, amount: float, info: str | None = None) -> None: ...

    def finish(self, handle: object) -> None: ...


_reporter: ContextVar[Reporter | None] = ContextVar("synthgov_reporter", default=None)
_timings: ContextVar[dict[str, float] | None] = ContextVar("synthgov_step_timings", default=None)

Advance = Callable[..., None]


@contextlib.contextmanager
def step(description: str, total: float | None = None) -> Iterator[Advance]:
    """Report one named step; yields ``advance(amount=1, info=None)``. Inside :func:`timings`, the step's wall
    time is added to its kind (the description's text before the first ``:``, e.g. ``train``)."""
    started = time.perf_counter()
    try:
        reporter = _reporter.get()
        if reporter is None:
            yield lambda amount=1, info=None: None
            return
        handle = reporter.start(description, total)
        try:
            yield lambda amount=1, info=None: reporter.advance(handle, amount, info)
        finally:
            reporter.finish(handle)
    finally:
        collected = _timings.get()
        if collected is not None:
            kind = description.split(":", 1)[0].strip()
            collected[kind] = collected.get(kind, 0.0) + time.perf_counter() - started


@contextlib.contextmanager
def timings() -> Iterator[dict[str, float]]:
    """Collect the wall seconds of every step run inside, by kind (``analyze``, ``encode``, ``train``, ...):
    the dict is filled as steps end."""
    collected: dict[str, float] = {}
    token = _timings.set(collected)
    try:
        yield collected
    finally:
        _timings.reset(token)


@contextlib.contextmanager
def use_reporter(reporter: Reporter | None) -> Iterator[None]:
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
