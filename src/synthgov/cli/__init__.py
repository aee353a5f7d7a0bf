"""The ``synthgov`` command line. Only typer and rich load at start-up; commands import what they need."""

from __future__ import annotations


def main() -> None:
    from synthgov.cli.app import app

    app()
