"""Advisory locks between synthgov processes: one run writes a release folder at a time, and the keystore is made
once however many runs start on a fresh ``$SYNTHGOV_HOME``.

A lock is a small file beside what it guards, held with ``flock`` (released by the kernel when the process dies,
so a ``kill -9`` never leaves a stale lock). The file is removed on release; a waiter that finds the file it
locked already removed tries again, so two runs never both hold it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.05


class BusyError(InputError):
    """Another synthgov run holds the lock (exit 2, one line)."""


@contextmanager
def exclusive(path: Path, what: str, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lock file ``path`` while the block runs. ``what`` names the guarded thing in the error raised
    when another run holds it longer than ``wait_seconds``."""
    descriptor = _acquire(Path(path), what, wait_seconds)
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            logger.debug("lock file %s already gone", path)
        _unlock(descriptor)
        os.close(descriptor)


def _acquire(path: Path, what: str, wait_seconds: float) -> int:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
        if _try_lock(descriptor):
            try:
                same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a file that its previous holder removed after we opened it
                return descriptor
            _unlock(descriptor)
        os.close(descriptor)
        if time.monotonic() >= deadline:
            raise BusyError(f"{what} is in use by another synthgov run (lock {path}); try again when it has finished")
        time.sleep(POLL_SECONDS)


def _try_lock(descriptor: int) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: msvcrt's byte-range lock on the first byte
        import msvcrt

        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(descriptor: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        os.lseek(descriptor, 0, os.SEEK_SET)
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(descriptor, fcntl.LOCK_UN)
