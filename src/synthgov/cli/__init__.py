"""The ``synthgov`` command line. Only typer and rich load at start-up; commands import what they need.

:func:`main` is the last line of defence: synthgov's own errors are already one ``error:`` line (exit 2, or 3 for
a refusal) inside each command; anything else that escapes a command still ends in one line, exit 2 when the
operating system refused something the user named (a missing or unreadable file, a full disk) and exit 1 for an
internal error, with the full traceback behind ``--debug`` (anywhere on the line) or ``SYNTHGOV_DEBUG=1``.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

DEBUG_FLAG = "--debug"
INTERNAL_ERROR = 1
BAD_INPUT = 2


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(sys.argv[1:] if argv is None else argv))


def run(argv: list[str]) -> int:
    """Run the command line on ``argv``; return its exit code (never raise, never print a traceback unless
    debugging)."""
    debug = DEBUG_FLAG in argv or os.environ.get("SYNTHGOV_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != DEBUG_FLAG]
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    from synthgov.cli.app import app

    try:
        app(args=argv, prog_name="synthgov")  # usage errors, --help and typer.Exit end in SystemExit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the catch-all this module exists for
        return _report(exc, debug)
    return 0


def _report(exc: Exception, debug: bool) -> int:
    from synthgov.errors import SynthgovError

    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, SynthgovError):
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, (OSError, MemoryError, RecursionError)):
        # what the system refused: a path, a permission, the disk, the memory, or an input nested too deeply
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {detail}", file=sys.stderr)
        return BAD_INPUT
    first = str(exc).splitlines()[0] if str(exc) else ""
    hint = "" if debug else f"; run again with {DEBUG_FLAG} for the full trace"
    print(f"error: internal error ({type(exc).__name__}: {first[:300]}){hint}", file=sys.stderr)
    logger.debug("internal error", exc_info=exc)
    return INTERNAL_ERROR
