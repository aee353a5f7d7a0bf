"""The API's request and response bodies (pydantic)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Me(BaseModel):
    name: str
    role: str


class ReleaseSummary(BaseModel):
    id: str
    owner: str
    generator: str
    rows: int
    manifest_sha256: str
    signing_key_id: str
    uploaded_at: str


class ReleaseDetail(ReleaseSummary):
    files: dict[str, str]
    shared_with: list[str]
    manifest: dict[str, Any]


class ShareRequest(BaseModel):
    user: str = Field(min_length=1, max_length=64)


class ShareResult(BaseModel):
    release: str
    user: str


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    hash: str


class ChainStatus(BaseModel):
    valid: bool
    entries: int
    checkpoints: int
    head: str
    problems: list[str]
