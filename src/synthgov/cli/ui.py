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


@contextlib.contextmanager
def progress_bars(enabled: bool = True) -> Iterator[None]:
    from synthgov import progress as steps

    if not enabled:
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
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=getattr(exc, "exit_code", 2)) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(code=130) from None


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
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
