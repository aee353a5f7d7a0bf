"""Console output shared by the commands: rich progress bars on stderr and one-line errors (exit code 2)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

err = Console(stderr=True)
out = Console()
# Piped or logged output keeps each message on one line (paths and messages stay greppable); terminals wrap.
for _console in (err, out):
    _console.soft_wrap = not _console.is_terminal


class RichReporter:
    """Draws synthgov's progress steps (see :mod:`synthgov.progress`) as rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def start(self, description: str, total: float | None) -> object:
        return self.progress.add_task(description, total=total, info="")

    def advance(self, handle: object, amount: float, info: str | None = None) -> None:
        self.progress.advance(handle, amount)  # type: ignore[arg-type]
        if info:
            self.progress.update(handle, info=info)  # type: ignore[arg-type]

    def finish(self, handle: object) -> None:
        task = self.progress.tasks[[t.id for t in self.progress.tasks].index(handle)]  # type: ignore[arg-type]
        self.progress.update(handle, total=task.total or 1, completed=task.total or 1)  # type: ignore[arg-type]


class LineReporter:
    """Without a terminal (CI logs, ``nohup``, pipes) progress bars draw nothing: this prints one line when a step
    starts, then its percent, time so far and time left at most every ``every`` seconds, and one when it ends."""

    def __init__(self, console: Console, every: float = 15.0) -> None:
        self.console, self.every = console, every
        self.steps: dict[int, dict[str, Any]] = {}

    def start(self, description: str, total: float | None) -> object:
        import time

        handle = len(self.steps)
        now = time.monotonic()
        self.steps[handle] = {"name": description, "total": total, "done": 0.0, "start": now, "shown": now}
        self.console.print(f"{description} ...", highlight=False)
        return handle

    def advance(self, handle: object, amount: float, info: str | None = None) -> None:
        import time

        step = self.steps[handle]  # type: ignore[index]
        step["done"] += amount
        now = time.monotonic()
        if now - step["shown"] < self.every:
            return
        step["shown"] = now
        elapsed = now - step["start"]
        if step["total"]:
            share = min(step["done"] / step["total"], 1.0)
            left = elapsed * (1 - share) / share if share > 0 else float("nan")
            where = f"{share:.0%}, {elapsed:.0f} s so far, about {left:.0f} s left"
        else:
            where = f"{elapsed:.0f} s so far"
        self.console.print(f"{step['name']}: {where}{'; ' + info if info else ''}", highlight=False)

    def finish(self, handle: object) -> None:
        import time

        step = self.steps[handle]  # type: ignore[index]
        self.console.print(f"{step['name']}: done in {time.monotonic() - step['start']:.1f} s", highlight=False)


@contextlib.contextmanager
def progress_bars(enabled: bool = True) -> Iterator[None]:
    from synthgov import progress as steps

    if not enabled:
        yield
        return
    if not err.is_terminal:
        with steps.use_reporter(LineReporter(err)):
            yield
        return
    bars = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )
    with bars, steps.use_reporter(RichReporter(bars)):
        yield


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn synthgov's user-facing errors into one line on stderr and exit code 2."""
    from synthgov.errors import SynthgovError

    try:
        yield
    except SynthgovError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=getattr(exc, "exit_code", 2)) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(code=130) from None


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


def parse_conditions(items: list[str] | None) -> dict[str, Any] | None:
    """``["income=>50K", "sex=Female"]`` -> ``{"income": ">50K", "sex": "Female"}`` (split at the first '=')."""
    if not items:
        return None
    conditions: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"a condition must look like COLUMN=VALUE, got {item!r}")
        conditions[name.strip()] = value
    return conditions
