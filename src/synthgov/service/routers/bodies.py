"""Request bodies written to disk in bounded chunks: refused (413) as soon as they pass the limit, never read
whole into memory. For the API's raw bodies and the dashboard's file fields alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import HTTPException, UploadFile, status

CHUNK = 1 << 20


async def save_body(chunks: AsyncIterator[bytes], path: Path, limit: int, noun: str) -> int:
    """Write ``chunks`` to ``path``; 413 past ``limit`` bytes (``noun``: what is sent, for the message)."""
    received = 0
    with path.open("wb") as out:
        async for chunk in chunks:
            received += len(chunk)
            if received > limit:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{noun} may hold at most {limit:,} bytes")
            out.write(chunk)
    return received


async def file_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    """A form's file field, chunk by chunk."""
    while chunk := await upload.read(CHUNK):
        yield chunk
