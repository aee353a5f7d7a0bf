"""``/api/v1/audit``: the audit trail and its verification (auditors only)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from synthgov.service import audit_log
from synthgov.service.auth import role, session
from synthgov.service.models import AuditEntry, User
from synthgov.service.schemas import AuditEntryOut, ChainStatus, problems

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=problems(401, 403, 422, 429))


@router.get("", response_model=list[AuditEntryOut])
def entries(
    after: int = Query(0, ge=0, le=2**31 - 1, description="Entries after this sequence number."),
    limit: int = Query(100, ge=1, le=1000),
    user: User = Depends(role("auditor")),
    db: Session = Depends(session),
) -> list[AuditEntryOut]:
    rows = db.scalars(select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit))
    return [
        AuditEntryOut(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            detail=json.loads(e.detail),
            hash=e.hash,
        )
        for e in rows
    ]


@router.get("/verify", response_model=ChainStatus)
def verify(request: Request, user: User = Depends(role("auditor"))) -> ChainStatus:
    state = request.app.state
    with state.sessions() as db, db.begin():
        report = audit_log.verify(db, state.keystore.public_key())
        audit_log.append(db, user.name, "verify-audit-log", "", {"valid": report.valid}, **state.chain_options)
    return ChainStatus(**report.to_dict())
