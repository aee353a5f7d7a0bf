"""``/api/v1/releases``: upload (owners), list, read, share, and download a recipient's copy."""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from synthgov.governance.audit import SHIPPED
from synthgov.service import audit_log
from synthgov.service.auth import current_user, readable_release, role, session
from synthgov.service.copies import CannotMark, data_digest, make_copy, plan_id
from synthgov.service.models import Certificate, Copy, Release, Share, User, new_release
from synthgov.service.routers.bodies import save_body
from synthgov.service.schemas import ReleaseDetail, ReleaseSummary, ShareRequest, ShareResult, problems
from synthgov.service.uploads import UploadRefused, receive

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/releases", tags=["releases"], responses=problems(401, 403, 404, 422, 429))
ZIP = "application/zip"


def _summary(db: Session, release: Release) -> dict:
    owner = db.get(User, release.owner_id)
    return {
        "id": release.id,
        "owner": owner.name if owner else "?",
        "generator": release.generator,
        "rows": release.rows,
        "manifest_sha256": release.manifest_sha256,
        "signing_key_id": release.signing_key_id,
        "uploaded_at": release.uploaded_at,
    }


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "the release folder as a zip (manifest.json at its top level or in one top folder)",
        "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReleaseSummary,
    responses=problems(409, 413, 415),
    openapi_extra=UPLOAD_BODY,
)
async def upload(request: Request, user: User = Depends(role("owner"))) -> ReleaseSummary:
    """A release folder as a zip (``Content-Type: application/zip``), verified against your registered key."""
    state = request.app.state
    if request.headers.get("content-type", "").split(";")[0].strip() != ZIP:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send the release as {ZIP}")
    declared = request.headers.get("content-length")
    limit = state.settings.max_upload_bytes
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"an upload may hold at most {limit:,} bytes")
    work = state.store.incoming()
    try:
        await save_body(request.stream(), work / "upload.zip", limit, "an upload")
        return await run_in_threadpool(store_upload, state, user, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def store_upload(state, user: User, work: Path) -> ReleaseSummary:
    """Verify and store the zip ``work/upload.zip`` uploaded by ``user`` (the API's and the dashboard's upload)."""
    try:
        got = receive(work / "upload.zip", work / "release", user.public_key, state.settings.max_unpacked_bytes)
    except UploadRefused as exc:
        with state.sessions() as db, db.begin():
            audit_log.append(db, user.name, "upload-refused", "", {"reason": str(exc)}, **state.chain_options)
        raise HTTPException(exc.status, f"upload refused: {exc}") from None
    predicate = got.manifest["statement"]["predicate"]
    release_id = str(predicate["release"]["id"])
    gate = _policy_gate(state, user, got.folder, release_id) if state.settings.upload_policy else None
    digests = {name: state.store.put(got.folder / name) for name in got.files}  # objects first, then the row
    with state.sessions() as db, db.begin():
        if db.get(Release, release_id) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"release {release_id} is already in the registry")
        release = new_release(user.id, predicate, digests)
        db.add(release)
        detail = {"manifest_sha256": release.manifest_sha256, "files": len(digests), "verified": True}
        audit_log.append(db, user.name, "upload", release_id, detail, **state.chain_options)
        if gate is not None:
            db.add(Certificate(id=str(uuid.uuid4()), release_id=release_id, policy=state.settings.upload_policy,
                               passed=True, summary=gate[0], auditor_id=None, object_sha256=gate[1]))  # fmt: skip
        db.flush()
        summary = ReleaseSummary(**_summary(db, release))
    state.lineage.release_registered(got.manifest, digests["manifest.json"])  # after the commit: an index of facts
    return summary


def _policy_gate(state, user: User, folder: Path, release_id: str) -> tuple[str, str]:
    """Audit an arriving release against the registry's upload policy: (summary, certificate digest) when every
    clause passes; otherwise the upload is refused naming the clauses that fail (and the refusal audited)."""
    from synthgov.errors import SynthgovError
    from synthgov.service.certificates import audit_folder

    try:
        certificate, digest = audit_folder(
            state.store,
            state.keystore,
            folder,
            user.public_key.encode("ascii"),
            state.settings.upload_policy,
            "synthgov registry upload gate",
        )
    except SynthgovError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"upload refused: the policy audit: {exc}") from None
    predicate = certificate["statement"]["predicate"]
    if predicate["passed"]:
        return str(predicate["summary"]), digest
    failing = [f"{c['id']} (measured {c.get('measured')!r}, threshold {c.get('threshold')!r})"
               for c in predicate["clauses"] if not c["passed"]]  # fmt: skip
    reason = f"the release fails the registry's policy {state.settings.upload_policy}: {'; '.join(failing)}"
    with state.sessions() as db, db.begin():
        detail = {"reason": reason[:1000], "certificate_sha256": digest, "release": release_id}
        audit_log.append(db, user.name, "upload-refused", "", detail, **state.chain_options)
    raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"upload refused: {reason}")


@router.get("", response_model=list[ReleaseSummary])
def list_releases(user: User = Depends(current_user), db: Session = Depends(session)) -> list[ReleaseSummary]:
    from synthgov.service.auth import can_read

    rows = db.scalars(select(Release).order_by(Release.uploaded_at))
    return [ReleaseSummary(**_summary(db, r)) for r in rows if can_read(db, user, r)]


@router.get("/{release_id}", response_model=ReleaseDetail)
def read(
    release_id: str, request: Request, user: User = Depends(current_user), db: Session = Depends(session)
) -> ReleaseDetail:
    release = readable_release(db, user, release_id)
    files = json.loads(release.files)
    with request.app.state.store.open(files["manifest.json"]) as f:
        manifest = json.loads(f.read())
    shared = db.scalars(select(User.name).join(Share, Share.user_id == User.id).where(Share.release_id == release.id))
    return ReleaseDetail(**_summary(db, release), files=files, shared_with=sorted(shared), manifest=manifest)


@router.post("/{release_id}/shares", status_code=status.HTTP_201_CREATED, response_model=ShareResult)
def share(release_id: str, body: ShareRequest, request: Request, user: User = Depends(role("owner"))) -> ShareResult:
    return share_release(request.app.state, user, release_id, body.user)


def share_release(state, user: User, release_id: str, recipient_name: str) -> ShareResult:
    """Share ``user``'s release with ``recipient_name`` (the API's and the dashboard's share), audited."""
    with state.sessions() as db, db.begin():  # committed before the response: the share and its audit entry
        release = readable_release(db, user, release_id)
        if release.owner_id != user.id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only the release's owner shares it")
        recipient = db.scalars(select(User).where(User.name == recipient_name)).first()
        if recipient is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {recipient_name!r}")
        held = select(Share).where(Share.release_id == release.id, Share.user_id == recipient.id)
        if db.scalars(held).first() is None:
            db.add(Share(release_id=release.id, user_id=recipient.id, granted_by=user.id))
            audit_log.append(db, user.name, "share", release.id, {"with": recipient.name}, **state.chain_options)
        return ShareResult(release=release.id, user=recipient.name)


@router.get(
    "/{release_id}/download",
    response_class=Response,
    responses={200: {"content": {ZIP: {}}}, **problems(409)},
)
def download(release_id: str, request: Request, user: User = Depends(current_user)) -> Response:
    """Your own copy: the rows marked with your name (a leak names you), its manifest signed by the service."""
    return download_response(request.app.state, user, release_id)


def download_response(state, user: User, release_id: str) -> Response:
    """``user``'s marked, signed copy of the release as a zip (the API's and the dashboard's download)."""
    with state.sessions() as db:
        release = readable_release(db, user, release_id)
    files = json.loads(release.files)
    if "synthetic.parquet" not in files:
        raise HTTPException(status.HTTP_409_CONFLICT, "this release holds no synthetic.parquet to copy")
    with tempfile.TemporaryDirectory(dir=state.store.root / "incoming") as folder:
        original, copy = Path(folder) / "original", Path(folder) / "copy"
        original.mkdir()
        for name in ("manifest.json", "synthetic.parquet", "schema.yaml"):
            if name in files:
                with state.store.open(files[name]) as src, (original / name).open("wb") as out:
                    shutil.copyfileobj(src, out)
        manifest = json.loads((original / "manifest.json").read_text(encoding="utf-8"))
        try:
            document = make_copy(
                original,
                manifest,
                release.manifest_sha256,
                user.name,
                copy,
                keystore=state.keystore,
                home=state.settings.home,
            )
        except CannotMark as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in copy.rglob("*") if p.is_file()):
                archive.write(path, f"{release.id}/{path.relative_to(copy).as_posix()}")
    digest, plan = data_digest(document), plan_id(document)
    with state.sessions() as db, db.begin():  # the copy and its audit entry, committed before the bytes leave
        db.add(Copy(release_id=release.id, user_id=user.id, data_sha256=digest, plan_id=plan))
        detail = {"data_sha256": digest, "plan_id": plan}
        audit_log.append(db, user.name, "download", release.id, detail, **state.chain_options)
    return Response(
        buffer.getvalue(),
        media_type=ZIP,
        headers={"Content-Disposition": f'attachment; filename="{release.id}.zip"'},
    )


class AuditRequest(BaseModel):
    policy: str = Field(json_schema_extra={"enum": list(SHIPPED)}, description="a shipped audit policy")


class CertificateOut(BaseModel):
    id: str
    release: str
    policy: str
    passed: bool
    summary: str
    auditor: str
    certificate_sha256: str
    created_at: str


def _certificate_out(db: Session, c: Certificate) -> CertificateOut:
    from synthgov.service.certificates import auditor_name

    name = auditor_name(db, c)
    return CertificateOut(id=c.id, release=c.release_id, policy=c.policy, passed=c.passed, summary=c.summary,
                          auditor=name, certificate_sha256=c.object_sha256, created_at=c.created_at)  # fmt: skip


@router.post("/{release_id}/audits", status_code=status.HTTP_201_CREATED, response_model=CertificateOut)
def audit_release(
    release_id: str, body: AuditRequest, request: Request, user: User = Depends(role("auditor"))
) -> CertificateOut:
    """Audit the release against a shipped policy with its signed evaluation; the certificate is signed by the
    service and stored with the release."""
    return audit_response(request.app.state, user, release_id, body.policy)


def audit_response(state, user: User, release_id: str, policy: str) -> CertificateOut:
    from synthgov.service.certificates import run_audit

    if policy not in SHIPPED:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"policy must be one of {', '.join(SHIPPED)}")
    with state.sessions() as db:
        release = readable_release(db, user, release_id)
    certificate = run_audit(state, user, release, policy)
    with state.sessions() as db:
        return _certificate_out(db, certificate)


@router.get("/{release_id}/audits", response_model=list[CertificateOut])
def certificates(release_id: str, request: Request, user: User = Depends(current_user)) -> list[CertificateOut]:
    with request.app.state.sessions() as db:
        release = readable_release(db, user, release_id)
        rows = db.scalars(
            select(Certificate).where(Certificate.release_id == release.id).order_by(Certificate.created_at)
        )
        return [_certificate_out(db, c) for c in rows]


@router.get(
    "/{release_id}/audits/{certificate_id}",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def certificate(release_id: str, certificate_id: str, request: Request, user: User = Depends(current_user)) -> Response:
    """The signed certificate (``synthgov verify CERT.json --public-key service.pem`` checks it)."""
    state = request.app.state
    with state.sessions() as db:
        release = readable_release(db, user, release_id)
        row = db.get(Certificate, certificate_id)
        if row is None or row.release_id != release.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no certificate {certificate_id!r} of this release")
    with state.store.open(row.object_sha256) as f:
        return Response(f.read(), media_type="application/json")


detect_router = APIRouter(prefix="/api/v1", tags=["detect"], responses=problems(401, 403, 413, 415, 422, 429))
DETECT_BODY = {
    "requestBody": {
        "required": True,
        "description": "the suspect table, as CSV or Parquet",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("text/csv", "application/vnd.apache.parquet")
        },
    }
}


@detect_router.post("/detect", openapi_extra=DETECT_BODY)
async def detect_leak(request: Request, user: User = Depends(role("owner", "auditor"))) -> dict:
    """Is this table a copy the registry handed out, and to whom? (The service's watermark key and the plans of
    every copy it made; owners and auditors.) The result and who asked are in the audit trail."""
    state = request.app.state
    kinds = {"text/csv": "csv", "application/vnd.apache.parquet": "parquet"}
    kind = kinds.get(request.headers.get("content-type", "").split(";")[0].strip())
    if kind is None:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the table as text/csv or Parquet")
    work = state.store.incoming()
    try:
        path = work / f"suspect.{kind}"
        await save_body(request.stream(), path, state.settings.max_upload_bytes, "a table")
        return await run_in_threadpool(_detect, state, user, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _detect(state, user: User, path: Path) -> dict:
    from synthgov.errors import SynthgovError
    from synthgov.release.keys import watermark_key_id
    from synthgov.table.io import read_table
    from synthgov.watermark import detect, registry
    from synthgov.watermark.detect import DETECTION_THRESHOLD

    try:
        frame = read_table(path)
    except SynthgovError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"not a readable table: {exc}") from None
    secret = state.keystore.watermark_secret()
    key_id = watermark_key_id(secret)
    plans = registry.plans_for(key_id, state.settings.home)  # the service's plans, whatever $SYNTHGOV_HOME says
    result = detect(frame, plans, secret, key_id)
    found = result.p_value <= DETECTION_THRESHOLD
    answer = {**result.to_dict(), "found": found, "threshold": DETECTION_THRESHOLD}
    with state.sessions() as db, db.begin():
        detail = {"found": found, "recipient": result.recipient if found else None, "rows": result.rows}
        audit_log.append(db, user.name, "detect", result.release_id or "", detail, **state.chain_options)
    return answer
