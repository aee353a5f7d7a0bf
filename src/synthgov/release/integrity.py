"""File digests and a Merkle tree over row chunks, so verification can say which rows were altered.

The tree is RFC 6962's (Certificate Transparency): a leaf is ``sha256(0x00 || chunk digest)`` and a node
``sha256(0x01 || left || right)``, so no leaf can pass for a node (domain separation); an odd node is promoted, not
paired with itself, so two lists of chunks never share a root. Manifests name it ``merkle_scheme =
"rfc6962-sha256"``; manifests without the field used the first tree (nodes prefixed, leaves not, last node
doubled), which :func:`merkle_root` still computes to check them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

CHUNK_ROWS = 4096


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chunk_hashes(frame: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> list[str]:
    """sha256 of each block of ``chunk_rows`` rows, serialised as header-less CSV (values as written)."""
    out = []
    for start in range(0, max(len(frame), 1), chunk_rows):
        block = frame.iloc[start : start + chunk_rows]
        text = block.to_csv(index=False, header=False, lineterminator="\n")
        out.append(hashlib.sha256(text.encode("utf-8")).hexdigest())
    return out


MERKLE_SCHEME = "rfc6962-sha256"
LEGACY_MERKLE_SCHEME = "synthgov-v1"


def merkle_root(leaves: list[str], scheme: str = MERKLE_SCHEME) -> str:
    """Root over the chunk digests ``leaves`` (hex), under ``scheme``."""
    if scheme == LEGACY_MERKLE_SCHEME:
        return _legacy_root(leaves)
    if scheme != MERKLE_SCHEME:
        raise ValueError(f"unknown Merkle scheme {scheme!r}")
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    level = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in leaves]
    while len(level) > 1:
        paired = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0].hex()


def _legacy_root(leaves: list[str]) -> str:
    level = [bytes.fromhex(h) for h in leaves] or [hashlib.sha256(b"").digest()]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0].hex()


def read_data(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, low_memory=False)


def data_entry(
    path: Path, frame: pd.DataFrame | None = None, name: str | None = None, sha256: str | None = None
) -> dict[str, object]:
    """The integrity record of one data file: its digest, size, rows, columns and row-chunk Merkle tree.
    ``frame``: its rows when in hand (not read again); ``name``: its path inside the release (default: its file
    name); ``sha256``: its digest when taken from the bytes as they were written."""
    frame = read_data(path) if frame is None else frame
    leaves = chunk_hashes(frame)
    return {
        "path": name or path.name,
        "sha256": sha256 or file_sha256(path),
        "bytes": path.stat().st_size,
        "rows": len(frame),
        "columns": list(map(str, frame.columns)),
        "chunk_rows": CHUNK_ROWS,
        "chunk_hashes": leaves,
        "merkle_scheme": MERKLE_SCHEME,
        "merkle_root": merkle_root(leaves),
    }
