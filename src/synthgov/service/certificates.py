"""Audits run by the service: an auditor asks for a release to be audited against a shipped policy; the release's
files are put back together from the store, verified with its owner's registered key, audited with its signed
evaluation (``synthgov audit``'s code), and the certificate, signed by the service's key, is stored with the
release and shown on its page."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from synthgov.service import audit_log
from synthgov.service.models import Certificate, Job, OwnerKey, Release, User

logger = logging.getLogger(__name__)


def audit_folder(
    store: Any, keystore: Any, folder: Path, public_key_pem: bytes, policy: str, auditor: str
) -> tuple[dict, str]:
    """Audit the release folder ``folder`` (verified with ``public_key_pem``) against ``policy``, sign with the
    service's key (``keystore``) and put the certificate in ``store``: the certificate and its object's digest."""
    from synthgov.governance.audit import audit

    with tempfile.TemporaryDirectory(dir=store.root / "incoming") as scratch:
        key = Path(scratch) / "owner.pub.pem"
        key.write_bytes(public_key_pem)
        result = audit(folder, policy, auditor=auditor, public_key=key, keystore=keystore)
        document = Path(scratch) / "certificate.json"
        document.write_text(json.dumps(result.certificate, indent=2), encoding="utf-8")
        return result.certificate, store.put(document)


def signing_key_of(db: Any, release: Release) -> str | None:
    """The PEM of the owner's key that signed ``release`` (kept across key changes); the owner's current key when
    the history does not know it."""
    from sqlalchemy import select

    kept = db.scalars(
        select(OwnerKey.public_key).where(
            OwnerKey.user_id == release.owner_id, OwnerKey.key_id == release.signing_key_id
        )
    ).first()
    return kept or db.get(User, release.owner_id).public_key


def auditor_name(db: Any, certificate: Certificate) -> str:
    """Who audited: the auditor's name, or which part of the service (a job's audit or the upload gate)."""
    if certificate.auditor_id is not None:
        auditor = db.get(User, certificate.auditor_id)
        return auditor.name if auditor else "?"
    from sqlalchemy import select

    made_by_job = db.scalars(select(Job.id).where(Job.release_id == certificate.release_id)).first()
    return "the service, as the job asked" if made_by_job else "the registry's upload gate"


def run_audit(state: Any, auditor: User, release: Release, policy: str) -> Certificate:
    with state.sessions() as db:
        owner_key = signing_key_of(db, release)
    files = json.loads(release.files)
    work = Path(tempfile.mkdtemp(dir=state.store.root / "incoming"))
    try:
        folder = work / "release"
        for name, digest in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with state.store.open(digest) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
        # a job's release is signed by the service itself
        by_service = release.signing_key_id == state.keystore.index()["signing_key_id"]
        key = state.keystore.public_pem() if by_service or not owner_key else owner_key.encode("ascii")
        document, digest = audit_folder(state.store, state.keystore, folder, key, policy, auditor.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    predicate = document["statement"]["predicate"]
    with state.sessions() as db, db.begin():
        certificate = Certificate(
            id=str(uuid.uuid4()),
            release_id=release.id,
            policy=policy,
            passed=bool(predicate["passed"]),
            summary=str(predicate["summary"]),
            auditor_id=auditor.id,
            object_sha256=digest,
        )
        db.add(certificate)
        detail = {"policy": policy, "passed": certificate.passed, "certificate_sha256": digest}
        audit_log.append(db, auditor.name, "audit", release.id, detail, **state.chain_options)
    logger.info("audit of %s against %s: %s", release.id, policy, certificate.summary)
    return certificate
