"""The registry's tables (SQLAlchemy 2 declarative). Schema changes go through Alembic (``migrations/``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("owner", "auditor", "consumer")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Base(DeclarativeBase):
    pass


class User(Base):
    """A person or system. ``owner``: publishes and shares; ``auditor``: reads everything, the audit trail
    included; ``consumer``: downloads what is shared with them. An owner's ``public_key`` (PEM) is the key their
    releases must be signed with."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40), default=now)


class OwnerKey(Base):
    """Every signing key an owner has had (the current one is also ``User.public_key``): a release is checked
    with the key that signed it, so a key change never strands the releases signed before it."""

    __tablename__ = "owner_keys"
    __table_args__ = (UniqueConstraint("user_id", "key_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key_id: Mapped[str] = mapped_column(String(40))
    public_key: Mapped[str] = mapped_column(Text)
    added_at: Mapped[str] = mapped_column(String(40), default=now)


class Token(Base):
    """An API token, stored as its SHA-256 only (the token itself is shown once, at creation)."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # the token's first characters, to tell tokens apart
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[str] = mapped_column(String(40), default=now)
    revoked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Release(Base):
    """A verified release: its manifest's digest and each file's content address."""

    __tablename__ = "releases"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    signing_key_id: Mapped[str] = mapped_column(String(80))
    generator: Mapped[str] = mapped_column(String(40))
    rows: Mapped[int] = mapped_column(Integer)
    files: Mapped[str] = mapped_column(Text)  # JSON {relative path: sha256}
    uploaded_at: Mapped[str] = mapped_column(String(40), default=now)


def new_release(owner_id: int, predicate: dict, digests: dict[str, str]) -> Release:
    """The row of a verified release whose files are stored under ``digests`` (an upload's or a job's)."""
    import json

    return Release(
        id=str(predicate["release"]["id"]),
        owner_id=owner_id,
        manifest_sha256=digests["manifest.json"],
        signing_key_id=str(predicate.get("signing_key_id")),
        generator=str(predicate["generator"]["name"]),
        rows=int(predicate["release"]["rows"]),
        files=json.dumps(digests, sort_keys=True),
    )


class Share(Base):
    __tablename__ = "shares"
    __table_args__ = (UniqueConstraint("release_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[str] = mapped_column(String(40), default=now)


class Copy(Base):
    """A recipient's copy as downloaded: whose, of what, its data digest and the watermark plan that marks it."""

    __tablename__ = "copies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    data_sha256: Mapped[str] = mapped_column(String(64))
    plan_id: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(40), default=now)


class AuditEntry(Base):
    """One action. ``hash`` = SHA-256 of the canonical JSON of the entry's fields and ``prev_hash`` (the previous
    entry's hash): editing, deleting, inserting or reordering entries breaks the chain."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """The chain's hash at ``seq``, signed by the service's key: a rewrite of the whole chain by someone with
    database access but not the key is detected."""

    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(80))
    signature: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40), default=now)


class WebSession(Base):
    """A dashboard sign-in: the cookie's SHA-256 (the cookie itself is never stored), the form token that guards
    every form of the session against cross-site requests, and when it ends."""

    __tablename__ = "web_sessions"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40), default=now)
    expires_at: Mapped[str] = mapped_column(String(40))


class Source(Base):
    """A real table an owner registered so the service can make releases from it (content-addressed; only its
    owner may use it)."""

    __tablename__ = "sources"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the file as uploaded
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(10))  # csv or parquet
    created_at: Mapped[str] = mapped_column(String(40), default=now)


class Job(Base):
    """A release the service makes from a source, run outside the request by a worker. ``state``: queued,
    running, done, failed; ``worker`` is the running process's id (a dead worker's job is marked failed)."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    spec: Mapped[str] = mapped_column(Text)  # JSON: generator, rows, seed, params
    state: Mapped[str] = mapped_column(String(10))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    step: Mapped[str] = mapped_column(String(200), default="")
    progress: Mapped[str] = mapped_column(String(20), default="0")  # fraction of the current step, as text
    worker: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    release_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[str] = mapped_column(String(40), default=now)
    updated_at: Mapped[str] = mapped_column(String(40), default=now)


class Certificate(Base):
    """A signed audit certificate of a release against a policy, made by the service for an auditor (the
    certificate itself is a stored object)."""

    __tablename__ = "certificates"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"))
    policy: Mapped[str] = mapped_column(String(80))
    passed: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(String(200))
    auditor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # None: the upload gate
    object_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40), default=now)
