"""Content-addressed files: ``objects/ab/<sha256>``, written to a temporary file, flushed and renamed into place,
so a file is either whole under its digest or absent. The database says which objects a release uses; an object
no row refers to (a crash between the two) is never served and :func:`unreferenced` lists it for removal."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

CHUNK = 1 << 20


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "incoming").mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / "objects" / digest[:2] / digest

    def incoming(self) -> Path:
        """A fresh private folder for an upload being received (removed by the caller)."""
        return Path(tempfile.mkdtemp(dir=self.root / "incoming"))

    def put(self, source: Path) -> str:
        """Store the file ``source`` (read once), return its sha256."""
        digest = hashlib.sha256()
        with source.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        name = digest.hexdigest()
        target = self.path(name)
        if target.is_file():
            return name
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        try:
            with os.fdopen(handle, "wb") as out, source.open("rb") as f:
                shutil.copyfileobj(f, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return name

    def open(self, digest: str):
        return self.path(digest).open("rb")

    def unreferenced(self, referenced: set[str]) -> list[Path]:
        """Objects no release refers to (left by a crash between writing the file and committing its row)."""
        return sorted(p for p in (self.root / "objects").glob("*/*") if p.name not in referenced)
