"""Writes that a crash cannot leave half done: a reader (or ``synthgov verify``) sees the old content or the new,
never a mix.

A file is written to a temporary name beside it and renamed over it (``os.replace`` is atomic on one file system).
A release folder is built in a staging folder beside its target and then swapped in: on Linux with
``renameat2(RENAME_EXCHANGE)``, one atomic step; elsewhere with two renames, between which a crash leaves the old
release under a hidden name that the next run into the same target restores.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import shutil
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

STAGING_TAG = ".synthgov-new-"
OLD_TAG = ".synthgov-old-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_bytes(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to ``path`` atomically, with permission bits ``mode``, flushed to disk before the rename."""
    with replacing(path) as temporary:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)  # whatever the umask
    return Path(path)


@contextlib.contextmanager
def replacing(path: Path):
    """A temporary path beside ``path`` for a writer that needs a file name (pandas, pyarrow); renamed over
    ``path`` when the block ends without an error, removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")  # same suffix: writers infer the format
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def staging_folder(target: Path) -> Path:
    """A new, empty folder beside ``target`` to build its next content in."""
    target = Path(target)
    staging = target.parent / f".{target.name}{STAGING_TAG}{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    return staging


def swap_in(staging: Path, target: Path) -> None:
    """Put the folder ``staging`` at ``target`` (replacing what is there) and delete the old content."""
    staging, target = Path(staging), Path(target)
    if not target.exists() and not target.is_symlink():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # staging now holds the old content
        return
    old = target.parent / f".{target.name}{OLD_TAG}{uuid.uuid4().hex[:8]}"
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def clean_leftovers(target: Path) -> None:
    """Remove staging folders of runs into ``target`` that died, and restore an old release that a crash between
    the two renames of :func:`swap_in` left hidden. Call only while holding the target's lock."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    stale = sorted(target.parent.glob(f".{_glob_escape(target.name)}{STAGING_TAG}*"))
    olds = sorted(target.parent.glob(f".{_glob_escape(target.name)}{OLD_TAG}*"))
    if olds and not target.exists():
        logger.warning("restoring %s from %s (an earlier run stopped while replacing it)", target, olds[-1])
        os.rename(olds.pop(), target)
    for leftover in [*stale, *olds]:
        logger.info("removing %s, left by an earlier run that stopped", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where the system cannot."""
    function = _renameat2()
    if function is None:
        return False
    result = function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None
    function = getattr(libc, "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        function.restype = ctypes.c_int
    return function
