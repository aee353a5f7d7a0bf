"""The client side: ``synthgov push`` (zip a release folder, upload it), ``synthgov pull`` (download your copy
and unpack it), ``share``, ``detect --server`` and ``synthgov jobs`` (register a source, ask the service for a
release and follow its progress). The server and token come from options or ``$SYNTHGOV_SERVER`` /
``$SYNTHGOV_TOKEN``."""

from __future__ import annotations

import io
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from synthgov.errors import InputError

TABLE_MEDIA = {".csv": "text/csv", ".parquet": "application/vnd.apache.parquet"}


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
    media = TABLE_MEDIA.get(table.suffix.lower())
    if media is None:
        raise InputError(f"{table}: the registry reads .csv or .parquet tables")
    if not table.is_file():
        raise InputError(f"no such file: {table}")
    with _client(server, token, transport) as client, table.open("rb") as body:
        response = _call(client.post, "/api/v1/detect", content=body, headers={"Content-Type": media})
    _raise_for(response)
    return response.json()


def add_source(table: Path, server: str | None = None, token: str | None = None, transport: Any = None) -> dict:
    """Register ``table`` (CSV or Parquet) as a source of yours on the registry (the same table twice is one
    source)."""
    server, token = _settings(server, token)
    table = Path(table)
    media = TABLE_MEDIA.get(table.suffix.lower())
    if media is None:
        raise InputError(f"{table}: a source is a .csv or .parquet table")
    if not table.is_file():
        raise InputError(f"no such file: {table}")
    with _client(server, token, transport) as client, table.open("rb") as body:
        response = _call(client.post, "/api/v1/sources", params={"name": table.name}, content=body,
                         headers={"Content-Type": media})  # fmt: skip
    _raise_for(response)
    return response.json()


def submit_job(spec: dict, server: str | None = None, token: str | None = None, transport: Any = None) -> dict:
    """Queue a job (``spec``: the fields of ``POST /api/v1/jobs``); the job as the server sees it."""
    server, token = _settings(server, token)
    with _client(server, token, transport) as client:
        response = _call(client.post, "/api/v1/jobs", json=spec)
    _raise_for(response)
    return response.json()


def job(job_id: str, server: str | None = None, token: str | None = None, transport: Any = None) -> dict:
    server, token = _settings(server, token)
    with _client(server, token, transport) as client:
        response = _call(client.get, f"/api/v1/jobs/{job_id}")
    _raise_for(response)
    return response.json()


def jobs(server: str | None = None, token: str | None = None, transport: Any = None) -> list[dict]:
    server, token = _settings(server, token)
    with _client(server, token, transport) as client:
        response = _call(client.get, "/api/v1/jobs")
    _raise_for(response)
    return response.json()


def retry_job(job_id: str, server: str | None = None, token: str | None = None, transport: Any = None) -> dict:
    server, token = _settings(server, token)
    with _client(server, token, transport) as client:
        response = _call(client.post, f"/api/v1/jobs/{job_id}/retry")
    _raise_for(response)
    return response.json()


def wait_for_job(
    job_id: str,
    server: str | None = None,
    token: str | None = None,
    transport: Any = None,
    poll: float = 1.0,
    timeout: float | None = None,
) -> dict:
    """Follow a job until it is done or failed, reporting each step the worker names and its progress through
    :mod:`synthgov.progress` (the CLI draws them as progress bars); the job's last state. ``timeout`` (seconds):
    stop waiting (the job goes on) with a clear error."""
    from synthgov import progress

    deadline = None if timeout is None else time.monotonic() + timeout
    current: tuple[str, Any, Any, float] | None = None  # step, its context, its advance, fraction shown
    try:
        while True:
            state = job(job_id, server, token, transport)
            step, fraction = state["step"], float(state["progress"])
            if current is None or current[0] != step:
                if current is not None:
                    current[1].__exit__(None, None, None)
                context = progress.step(f"job {job_id[:8]}: {step}", total=1.0)
                current = (step, context, context.__enter__(), 0.0)
            if fraction > current[3]:
                current[2](fraction - current[3])
                current = (*current[:3], fraction)
            if state["state"] in ("done", "failed"):
                return state
            if deadline is not None and time.monotonic() > deadline:
                raise InputError(f"job {job_id} is still {state['state']} after {timeout:.0f} s (it goes on)")
            time.sleep(poll)
    finally:
        if current is not None:
            current[1].__exit__(None, None, None)
