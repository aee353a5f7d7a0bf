"""Configuration that every part of synthgov reads, in one neutral module (imported by ``release``,
``watermark`` and ``governance`` alike, importing none of them).

``$SYNTHGOV_HOME`` (default ``~/.synthgov``) holds the keystore (``keys/``), the watermark plans
(``watermarks/``), the release ledger (``releases/``), seed commitments and the guard's ``audit.jsonl``.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

HOME_VARIABLE = "SYNTHGOV_HOME"
PASSPHRASE_VARIABLE = "SYNTHGOV_KEY_PASSPHRASE"  # unlocks an encrypted signing key (`keys init --encrypt`)
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def home() -> Path:
    """The folder of this issuer's keys and records."""
    return Path(os.environ.get(HOME_VARIABLE) or Path.home() / ".synthgov")


def private_folder(path: Path) -> Path:
    """``path`` as a folder only its owner can enter (0700, whatever the umask), and so every folder from
    ``$SYNTHGOV_HOME`` down to it when it lies inside."""
    root = home()
    chain = [path]
    if path.is_relative_to(root):
        while chain[-1] != root:
            chain.append(chain[-1].parent)
    for folder in reversed(chain):
        folder.mkdir(parents=True, exist_ok=True)
        if stat.S_IMODE(folder.stat().st_mode) != PRIVATE_FOLDER:
            os.chmod(folder, PRIVATE_FOLDER)
    return path


def write_private(path: Path, data: bytes, *, append: bool = False) -> Path:
    """Write (or append) ``data`` to a file readable by its owner only (0600), in a private folder."""
    private_folder(path.parent)
    if not append:  # replaced whole: a crash leaves the old content or the new, never half of it
        from synthgov.atomic import write_bytes

        return write_bytes(path, data, PRIVATE_FILE)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    with os.fdopen(descriptor, "ab") as handle:
        handle.write(data)
    os.chmod(path, PRIVATE_FILE)
    return path


def check_private(path: Path) -> None:
    """Warn (log) when a secret file can be read or written by others than its owner."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        logger.warning("%s can be read or written by others (mode %04o); run chmod 600 on it", path, mode)
