"""The tamper-evident audit trail: every action appended, in the same transaction as the action itself, to a
hash chain. Entry n holds H(entry n-1); H is SHA-256 of the RFC 8785 canonical JSON of the entry's fields and the
previous hash. Every ``checkpoint_every`` entries the service signs the chain's hash at that point (Ed25519, its
keystore). :func:`verify` recomputes the chain from the rows themselves, so an entry edited, deleted, inserted or
reordered directly in the database is found, and so is a rewrite of the whole chain up to a signed checkpoint.
(Entries after the last checkpoint can be cut off without a trace in the database alone: compare the head with a
copy kept elsewhere, e.g. the ``synthgov audit-log verify`` output archived by a monitor.)

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by its single writer
(every transaction begins IMMEDIATE, :mod:`synthgov.service.database`)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from synthgov.release import signing
from synthgov.service.models import AuditCheckpoint, AuditEntry, now

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
ADVISORY_LOCK = 7_324_911  # the key of PostgreSQL's advisory lock on the chain's head
CHECKPOINT_TYPE = "https://synthgov.dev/audit-checkpoint/v1"


def entry_hash(seq: int, at: str, actor: str, action: str, target: str, detail: str, prev_hash: str) -> str:
    fields = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "detail": json.loads(detail),
        "prev": prev_hash,
    }
    return hashlib.sha256(signing.canonical(fields)).hexdigest()


def append(
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    *,
    keystore: Any = None,
    checkpoint_every: int = 100,
) -> AuditEntry:
    """Append one entry (and a signed checkpoint every ``checkpoint_every`` entries) in ``session``'s
    transaction: committed with the action, or not at all."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    body = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    at = now()
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor[:64],
        action=action,
        target=target[:200],
        detail=body,
        prev_hash=prev,
        hash=entry_hash(seq, at, actor[:64], action, target[:200], body, prev),
    )
    session.add(entry)
    if keystore is not None and checkpoint_every > 0 and seq % checkpoint_every == 0:
        session.add(checkpoint(seq, entry.hash, keystore))
    session.flush()
    return entry


def checkpoint(seq: int, chain_hash: str, keystore: Any) -> AuditCheckpoint:
    from synthgov.release.keys import raw_public, signing_key_id

    private = keystore.signing_key()
    key_id = signing_key_id(raw_public(private.public_key()))
    statement = {"_type": CHECKPOINT_TYPE, "seq": seq, "hash": chain_hash}
    return AuditCheckpoint(
        seq=seq, hash=chain_hash, key_id=key_id, signature=signing.sign(statement, private, key_id)["sig"]
    )


@dataclass
class ChainReport:
    valid: bool
    entries: int
    checkpoints: int
    head: str
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "head": self.head,
            "problems": self.problems,
        }


def verify(session: Session, public_key: Any) -> ChainReport:
    """Recompute the chain from the stored rows and check every signed checkpoint with ``public_key``."""
    problems: list[str] = []
    prev, expected = GENESIS, 1
    hashes: dict[int, str] = {}
    count = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        count += 1
        if entry.seq != expected:
            problems.append(f"entry {entry.seq}: expected entry {expected} here (an entry was deleted or inserted)")
        if entry.prev_hash != prev:
            problems.append(f"entry {entry.seq}: does not follow the entry before it (deleted, inserted or reordered)")
        recomputed = entry_hash(
            entry.seq, entry.at, entry.actor, entry.action, entry.target, entry.detail, entry.prev_hash
        )
        if recomputed != entry.hash:
            problems.append(f"entry {entry.seq}: its content does not match its hash (edited)")
        hashes[entry.seq] = entry.hash
        prev, expected = entry.hash, entry.seq + 1
    marks = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
    for mark in marks:
        statement = {"_type": CHECKPOINT_TYPE, "seq": mark.seq, "hash": mark.hash}
        if not signing.verify_signature(statement, {"sig": mark.signature}, public_key):
            problems.append(f"checkpoint {mark.seq}: its signature does not verify with the service's key")
        elif hashes.get(mark.seq) != mark.hash:
            problems.append(f"checkpoint {mark.seq}: the chain no longer has the signed hash there (rewritten)")
    if not problems:
        logger.info("audit chain verified: %d entries, %d checkpoints", count, len(marks))
    return ChainReport(not problems, count, len(marks), prev, problems)
