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
    user: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", description="a registry user's name")


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


class Problem(BaseModel):
    """Every error's body: what went wrong, in one sentence (a list of field errors for a malformed request)."""

    detail: str | list[dict[str, Any]]


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (so clients and schema checks know them)."""
    text = {
        401: "no valid API token",
        403: "not allowed for your role or not shared with you",
        404: "no such release or user",
        409: "conflicts with what is stored (already there, or cannot be marked)",
        413: "too large",
        415: "not a zip file",
        422: "refused: the reason is in detail",
        429: "too many failed authentications from this address",
    }
    return {code: {"model": Problem, "description": text[code]} for code in codes}
