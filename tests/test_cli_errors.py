"""Anything that escapes a command ends in one line (issue 24): exit 1 for an internal error, 2 for what the
system refused, the traceback only behind --debug; synthgov's own errors keep their codes."""

from __future__ import annotations

import pandas as pd
import pytest

import synthgov.pipeline
from synthgov.cli import run
from synthgov.errors import RefusedError


@pytest.fixture
def table(tmp_path) -> str:
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": range(50), "b": ["x", "y"] * 25}).to_csv(path, index=False)
    return str(path)


def _raise(exc: BaseException):
    def broken(*args: object, **kwargs: object) -> None:
        raise exc

    return broken


@pytest.mark.parametrize(
    ("exc", "code", "words"),
    [
        (ZeroDivisionError("division by zero"), 1, "error: internal error (ZeroDivisionError: division by zero)"),
        (KeyError("columns"), 1, "error: internal error (KeyError: 'columns')"),
        (PermissionError(13, "Permission denied", "/x/y"), 2, "error: [Errno 13] Permission denied: '/x/y'"),
        (MemoryError(), 2, "error: MemoryError"),
        (RefusedError("refused: trained on synthetic"), 3, "error: refused: trained on synthetic"),
    ],
)
def test_escaping_errors_are_one_line(monkeypatch, capsys, table: str, tmp_path, exc, code: int, words: str) -> None:
    monkeypatch.setattr(synthgov.pipeline, "generate", _raise(exc))
    assert run(["generate", table, "--out", str(tmp_path / "r")]) == code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert lines[-1].startswith(words), captured.err
    assert "Traceback" not in captured.err + captured.out
    if code == 1:
        assert "--debug" in lines[-1]


def test_debug_shows_the_trace(monkeypatch, capsys, table: str, tmp_path) -> None:
    monkeypatch.setattr(synthgov.pipeline, "generate", _raise(ZeroDivisionError("boom")))
    assert run(["generate", table, "--out", str(tmp_path / "r"), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError: boom" in err


def test_usage_errors_keep_clicks_code(capsys) -> None:
    assert run(["generate", "--no-such-option"]) == 2
    assert run(["no-such-command"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_without_a_terminal_progress_is_printed_as_lines() -> None:
    """Issue 26: the demo was silent for 14 minutes when its output was not a terminal."""
    import io

    from rich.console import Console

    from synthgov import progress
    from synthgov.cli.ui import LineReporter

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    with progress.use_reporter(LineReporter(console, every=0.0)), progress.step("train: epochs", total=4) as advance:
        for _ in range(4):
            advance(1, info="loss 0.5")
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "train: epochs ..."
    assert [line.removeprefix("train: epochs: ").split(",")[0] for line in lines[1:5]] == ["25%", "50%", "75%", "100%"]
    assert "s left; loss 0.5" in lines[1] and lines[-1].startswith("train: epochs: done in")
