"""The client side: ``synthgov push`` (zip a release folder, upload it) and ``synthgov pull`` (download your
copy and unpack it). The server and token come from options or ``$SYNTHGOV_SERVER`` / ``$SYNTHGOV_TOKEN``."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from synthgov.errors import InputError


def _settings(server: str | None, token: str | None) -> tuple[str, str]:
    server = server or os.environ.get("SYNTHGOV_SERVER")
    token = token or os.environ.get("SYNTHGOV_TOKEN")
    if not server:
        raise InputError("no server: pass --server URL or set SYNTHGOV_SERVER")
    if not token:
        raise InputError("no token: pass --token or set SYNTHGOV_TOKEN (synthgov tokens create on the server)")
    return server.rstrip("/"), token


def _client(server: str, token: str, transport: Any = None):
    import httpx

    return httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=600.0, transport=transport
    )


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """One request; a server that cannot be reached is one clear error."""
    import httpx

    try:
        return method(*args, **kwargs)
    except httpx.HTTPError as exc:
        raise InputError(f"cannot reach the registry: {exc}") from None


def _raise_for(response: Any) -> None:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:300]
        raise InputError(f"the server answered {response.status_code}: {detail}")


def zip_release(folder: Path, into: Path) -> Path:
    folder = Path(folder)
    if not (folder / "manifest.json").is_file():
        raise InputError(f"{folder} holds no manifest.json: not a release folder")
    with zipfile.ZipFile(into, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            archive.write(path, path.relative_to(folder).as_posix())
    return into


def push(folder: Path, server: str | None = None, token: str | None = None, transport: Any = None) -> dict:
    server, token = _settings(server, token)
    with tempfile.TemporaryDirectory() as scratch:
        archive = zip_release(folder, Path(scratch) / "release.zip")
        with _client(server, token, transport) as client, archive.open("rb") as body:
            response = _call(client.post, "/api/v1/releases", content=body, headers={"Content-Type": "application/zip"})
    _raise_for(response)
    return response.json()


def pull(
    release_id: str, out: Path, server: str | None = None, token: str | None = None, transport: Any = None
) -> Path:
    server, token = _settings(server, token)
    with _client(server, token, transport) as client:
        response = _call(client.get, f"/api/v1/releases/{release_id}/download")
    _raise_for(response)
    out = Path(out)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        for info in archive.infolist():
            parts = Path(info.filename).parts
            if info.filename.startswith("/") or ".." in parts or len(parts) < 2:
                raise InputError(f"the server sent an unexpected member {info.filename!r}")
            target = out.joinpath(*parts[1:])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
    return out


def share(
    release_id: str, user: str, server: str | None = None, token: str | None = None, transport: Any = None
) -> dict:
    server, token = _settings(server, token)
    with _client(server, token, transport) as client:
        response = _call(client.post, f"/api/v1/releases/{release_id}/shares", json={"user": user})
    _raise_for(response)
    return response.json()


def detect(table: Path, server: str | None = None, token: str | None = None, transport: Any = None) -> dict:
    """Ask the registry whether ``table`` is a copy it handed out, and to whom."""
    server, token = _settings(server, token)
    table = Path(table)
    kinds = {".csv": "text/csv", ".parquet": "application/vnd.apache.parquet"}
    media = kinds.get(table.suffix.lower())
    if media is None:
        raise InputError(f"{table}: the registry reads .csv or .parquet tables")
    if not table.is_file():
        raise InputError(f"no such file: {table}")
    with _client(server, token, transport) as client, table.open("rb") as body:
        response = _call(client.post, "/api/v1/detect", content=body, headers={"Content-Type": media})
    _raise_for(response)
    return response.json()
