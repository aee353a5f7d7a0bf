"""The dashboard: server-rendered pages (Jinja2, autoescaped; no JavaScript) on the same app. Sign-in with an API
token opens a session (an HttpOnly, SameSite=Strict cookie whose digest is stored); every form carries the
session's token (CSRF) and the login form a token of its own; pages have a strict Content-Security-Policy.

Pages: releases (and an upload form for owners), a release (its manifest, datasheet, evaluation report, who it is
shared with and who received which copy; share and download), lineage (sources, parents, generation depth, and
the privacy budget spent per source), and the audit trail with its verification (auditors)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from synthgov.governance.audit import SHIPPED
from synthgov.service import audit_log, lineage_graph
from synthgov.service.auth import can_read, readable_release, token_digest
from synthgov.service.certificates import auditor_name
from synthgov.service.models import AuditEntry, Certificate, Copy, Release, Share, Token, User, WebSession, now
from synthgov.service.routers.bodies import file_chunks, save_body
from synthgov.service.routers.releases import audit_response, download_response, share_release, store_upload

router = APIRouter(include_in_schema=False)

COOKIE = "synthgov_session"
LOGIN_COOKIE = "synthgov_login"
SESSION_HOURS = 8
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
# the evaluation report: its own inline styles, figures and script, sandboxed (no cookies, no same origin)
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'unsafe-inline'; sandbox allow-scripts"
)


def _render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    from synthgov.templates import render

    response = HTMLResponse(render(name, **context), status_code=status_code)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


class Visitor:
    """The signed-in user of a page and the session's form token."""

    def __init__(self, user: User, csrf: str) -> None:
        self.user, self.csrf = user, csrf


def visitor(request: Request) -> Visitor:
    """The session's user; not signed in (or expired): redirected to the sign-in page."""
    cookie = request.cookies.get(COOKIE, "")
    if cookie:
        with request.app.state.sessions() as db:
            session = db.get(WebSession, hashlib.sha256(cookie.encode()).hexdigest())
            if session is not None and session.expires_at > now():
                user = db.get(User, session.user_id)
                if user is not None:
                    return Visitor(user, session.csrf)
    raise HTTPException(status.HTTP_303_SEE_OTHER, "sign in first", headers={"Location": "/login"})


def _check_csrf(who: Visitor, given: str) -> None:
    if not hmac.compare_digest(who.csrf, given or ""):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form's token is missing or wrong (reload the page)")


def _error(who: Visitor | None, exc: HTTPException) -> HTMLResponse:
    return _render("dashboard_error.html.j2", exc.status_code, who=who, message=str(exc.detail), code=exc.status_code)


# -- signing in and out ---------------------------------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request, error: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = _render("dashboard_login.html.j2", who=None, csrf=token, error=error)
    _cookie(request, response, LOGIN_COOKIE, token, 600)
    return response


@router.post("/login")
def login(request: Request, token: str = Form(""), csrf: str = Form("")) -> Response:
    state = request.app.state
    address = request.client.host if request.client else "unknown"
    if not hmac.compare_digest(request.cookies.get(LOGIN_COOKIE, ""), csrf or "") or not csrf:
        return _render("dashboard_login.html.j2", 403, who=None, csrf="", error="The sign-in form expired: reload.")
    if state.failed.blocked(address):
        return _render("dashboard_login.html.j2", 429, who=None, csrf="", error="Too many failed sign-ins: wait.")
    with state.sessions() as db, db.begin():
        row = db.scalars(select(Token).where(Token.digest == token_digest(token.strip()))).first()
        user = db.get(User, row.user_id) if row is not None and row.revoked_at is None else None
        if user is None:
            state.failed.record(address)
            shown = token[:7] + "..." if token else "none"
            audit_log.append(db, f"@{address}", "failed-login", "dashboard", {"token": shown}, **state.chain_options)
        else:
            cookie = secrets.token_urlsafe(32)
            expires = (datetime.now(UTC) + timedelta(hours=SESSION_HOURS)).isoformat(timespec="microseconds")
            db.add(
                WebSession(
                    digest=hashlib.sha256(cookie.encode()).hexdigest(),
                    user_id=user.id,
                    csrf=secrets.token_urlsafe(32),
                    expires_at=expires,
                )
            )
            audit_log.append(db, user.name, "login", "dashboard", {}, **state.chain_options)
    if user is None:
        fresh = secrets.token_urlsafe(32)
        response = _render("dashboard_login.html.j2", 401, who=None, csrf=fresh, error="That token is not valid.")
        _cookie(request, response, LOGIN_COOKIE, fresh, 600)
        return response
    response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    _cookie(request, response, COOKIE, cookie, SESSION_HOURS * 3600)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), who: Visitor = Depends(visitor)) -> Response:
    _check_csrf(who, csrf)
    state = request.app.state
    with state.sessions() as db, db.begin():
        session = db.get(WebSession, hashlib.sha256(request.cookies.get(COOKIE, "").encode()).hexdigest())
        if session is not None:
            db.delete(session)
        audit_log.append(db, who.user.name, "logout", "dashboard", {}, **state.chain_options)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE)
    return response


# -- releases ---------------------------------------------------------------------------------------------------------
@router.get("/")
def releases_page(request: Request, who: Visitor = Depends(visitor)) -> HTMLResponse:
    with request.app.state.sessions() as db:
        newest_first = db.scalars(select(Release).order_by(Release.uploaded_at.desc()))
        rows = [r for r in newest_first if can_read(db, who.user, r)]
        owners = {u.id: u.name for u in db.scalars(select(User))}
    return _render("dashboard_releases.html.j2", who=who, releases=rows, owners=owners)


@router.post("/upload")
async def upload_page(
    request: Request, release: UploadFile, csrf: str = Form(""), who: Visitor = Depends(visitor)
) -> Response:
    _check_csrf(who, csrf)
    state = request.app.state
    if who.user.role != "owner":
        return _error(who, HTTPException(status.HTTP_403_FORBIDDEN, "only owners upload releases"))
    work = state.store.incoming()
    try:
        try:
            await save_body(file_chunks(release), work / "upload.zip", state.settings.max_upload_bytes, "an upload")
            summary = await run_in_threadpool(store_upload, state, who.user, work)
        except HTTPException as exc:
            return _error(who, exc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RedirectResponse(f"/releases/{summary.id}", status.HTTP_303_SEE_OTHER)


def _release_context(request: Request, who: Visitor, release_id: str) -> dict[str, Any]:
    state = request.app.state
    with state.sessions() as db:
        release = readable_release(db, who.user, release_id)
        names = {u.id: u.name for u in db.scalars(select(User))}
        shares = [names[s.user_id] for s in db.scalars(select(Share).where(Share.release_id == release.id))]
        sees_copies = who.user.role == "auditor" or release.owner_id == who.user.id
        copies = (
            list(db.scalars(select(Copy).where(Copy.release_id == release.id).order_by(Copy.created_at)))
            if sees_copies
            else []
        )
        certificates = list(
            db.scalars(select(Certificate).where(Certificate.release_id == release.id).order_by(Certificate.created_at))
        )
        consumers = sorted(u.name for u in db.scalars(select(User)) if u.id != who.user.id and u.role != "auditor")
        audited = [(c, auditor_name(db, c)) for c in certificates]
    files = json.loads(release.files)
    with state.store.open(files["manifest.json"]) as f:
        manifest = json.loads(f.read())
    datasheet = ""
    if "datasheet.md" in files:
        with state.store.open(files["datasheet.md"]) as f:
            datasheet = f.read().decode("utf-8", errors="replace")
    predicate = manifest["statement"]["predicate"]
    return {
        "who": who,
        "release": release,
        "owner": names.get(release.owner_id, "?"),
        "predicate": predicate,
        "manifest_json": json.dumps(manifest, indent=2),
        "datasheet": datasheet,
        "has_report": "report/report.html" in files,
        "evaluation": predicate.get("evaluation"),
        "shares": sorted(shares),
        "copies": [(names.get(c.user_id, "?"), c.created_at, c.data_sha256) for c in copies],
        "sees_copies": sees_copies,
        "is_owner": release.owner_id == who.user.id,
        "consumers": consumers,
        "files": files,
        "certificates": audited,
        "policies": SHIPPED,
    }


@router.get("/releases/{release_id}")
def release_page(release_id: str, request: Request, who: Visitor = Depends(visitor)) -> HTMLResponse:
    try:
        context = _release_context(request, who, release_id)
    except HTTPException as exc:
        return _error(who, exc)
    return _render("dashboard_release.html.j2", **context)


@router.get("/releases/{release_id}/report")
def report_page(release_id: str, request: Request, who: Visitor = Depends(visitor)) -> Response:
    state = request.app.state
    try:
        with state.sessions() as db:
            release = readable_release(db, who.user, release_id)
    except HTTPException as exc:
        return _error(who, exc)
    files = json.loads(release.files)
    if "report/report.html" not in files:
        return _error(who, HTTPException(404, "this release holds no evaluation report"))
    with state.store.open(files["report/report.html"]) as f:
        response = HTMLResponse(f.read())
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@router.post("/releases/{release_id}/share")
def share_page(
    release_id: str, request: Request, user: str = Form(""), csrf: str = Form(""), who: Visitor = Depends(visitor)
) -> Response:
    _check_csrf(who, csrf)
    try:
        share_release(request.app.state, who.user, release_id, user)
    except HTTPException as exc:
        return _error(who, exc)
    return RedirectResponse(f"/releases/{release_id}", status.HTTP_303_SEE_OTHER)


@router.post("/releases/{release_id}/audit")
def audit_form(
    release_id: str, request: Request, policy: str = Form(""), csrf: str = Form(""), who: Visitor = Depends(visitor)
) -> Response:
    _check_csrf(who, csrf)
    if who.user.role != "auditor":
        return _error(who, HTTPException(status.HTTP_403_FORBIDDEN, "audits are signed by auditors"))
    try:
        audit_response(request.app.state, who.user, release_id, policy)
    except HTTPException as exc:
        return _error(who, exc)
    return RedirectResponse(f"/releases/{release_id}", status.HTTP_303_SEE_OTHER)


@router.get("/releases/{release_id}/audits/{certificate_id}")
def certificate_file(
    release_id: str, certificate_id: str, request: Request, who: Visitor = Depends(visitor)
) -> Response:
    state = request.app.state
    with state.sessions() as db:
        try:
            release = readable_release(db, who.user, release_id)
        except HTTPException as exc:
            return _error(who, exc)
        row = db.get(Certificate, certificate_id)
    if row is None or row.release_id != release.id:
        return _error(who, HTTPException(404, "no such certificate of this release"))
    with state.store.open(row.object_sha256) as f:
        return Response(f.read(), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="audit-{row.id}.json"'})  # fmt: skip


@router.get("/releases/{release_id}/download")
def download_page(release_id: str, request: Request, who: Visitor = Depends(visitor)) -> Response:
    try:
        return download_response(request.app.state, who.user, release_id)
    except HTTPException as exc:
        return _error(who, exc)


# -- lineage and budgets ----------------------------------------------------------------------------------------------
@router.get("/lineage")
def lineage_page(request: Request, who: Visitor = Depends(visitor)) -> HTMLResponse:
    from synthgov.privacy import rdp

    state = request.app.state
    with state.sessions() as db:
        rows = [r for r in db.scalars(select(Release).order_by(Release.uploaded_at)) if can_read(db, who.user, r)]
    nodes, sources = [], {}
    for release in rows:
        with state.store.open(json.loads(release.files)["manifest.json"]) as f:
            predicate = json.loads(f.read())["statement"]["predicate"]
        source = predicate.get("source") or {}
        fingerprint = source.get("sha256") or source.get("keyed_sha256") or "unknown"
        lineage = predicate.get("lineage") or {}
        parents = [str(p.get("release_id")) for p in lineage.get("parents") or [] if isinstance(p, dict)]
        privacy = predicate.get("privacy") or {}
        nodes.append(
            {
                "id": release.id,
                "source": fingerprint,
                "parents": parents,
                "depth": lineage.get("generation_depth", 0),
                "generator": release.generator,
                "epsilon": privacy.get("epsilon"),
            }
        )
        entry = sources.setdefault(fingerprint, {"releases": [], "lines": [], "delta": 0.0})
        entry["releases"].append(release.id)
        if privacy.get("epsilon") is not None and privacy.get("lines"):
            entry["lines"] += privacy["lines"]
            entry["delta"] = max(entry["delta"], float(privacy["delta"]))
    budgets = []
    for fingerprint, entry in sources.items():
        spent = rdp.composed(entry["lines"], entry["delta"]) if entry["lines"] else None
        budgets.append((fingerprint, len(entry["releases"]), spent, entry["delta"] if entry["lines"] else None))
    graph = lineage_graph.layout(nodes)
    return _render(
        "dashboard_lineage.html.j2",
        who=who,
        nodes=nodes,
        budgets=budgets,
        graph=graph,
        box_width=lineage_graph.BOX_WIDTH,
        box_height=lineage_graph.BOX_HEIGHT,
    )


# -- the audit trail ---------------------------------------------------------------------------------------------------
@router.get("/audit")
def audit_page(request: Request, who: Visitor = Depends(visitor)) -> HTMLResponse:
    if who.user.role != "auditor":
        return _error(who, HTTPException(status.HTTP_403_FORBIDDEN, "the audit trail is for auditors"))
    state = request.app.state
    with state.sessions() as db, db.begin():
        report = audit_log.verify(db, state.keystore.public_key())
        audit_log.append(db, who.user.name, "verify-audit-log", "dashboard", {"valid": report.valid},
                         **state.chain_options)  # fmt: skip
        entries = list(db.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(500)))
    return _render("dashboard_audit.html.j2", who=who, report=report, entries=entries)


@router.get("/static/dashboard.css")
def stylesheet() -> Response:
    from synthgov.templates import render

    return Response(render("dashboard.css.j2"), media_type="text/css")


# -- jobs --------------------------------------------------------------------------------------------------------------
@router.get("/jobs")
def jobs_page(request: Request, who: Visitor = Depends(visitor)) -> HTMLResponse:
    from synthgov.service.models import Source
    from synthgov.service.routers.jobs import _generators, dp_generators, visible_jobs

    state = request.app.state
    jobs = visible_jobs(state, who.user)
    with state.sessions() as db:
        sources = [s for s in db.scalars(select(Source).order_by(Source.created_at)) if s.owner_id == who.user.id]
    working = any(j.state in ("queued", "running") for j in jobs)
    return _render("dashboard_jobs.html.j2", who=who, jobs=list(reversed(jobs)), sources=sources,
                   generators=_generators(), dp_generators=dp_generators(), policies=SHIPPED,
                   refresh=working)  # fmt: skip


@router.post("/sources")
async def source_form(
    request: Request, table: UploadFile, csrf: str = Form(""), who: Visitor = Depends(visitor)
) -> Response:
    from synthgov.service.routers.jobs import store_source

    _check_csrf(who, csrf)
    state = request.app.state
    if who.user.role != "owner":
        return _error(who, HTTPException(status.HTTP_403_FORBIDDEN, "only owners register sources"))
    name = (table.filename or "table").rsplit("/", 1)[-1][:200]
    kind = "parquet" if name.lower().endswith(".parquet") else "csv" if name.lower().endswith(".csv") else None
    if kind is None:
        return _error(who, HTTPException(415, "a source is a .csv or .parquet file"))
    work = state.store.incoming()
    try:
        path = work / f"table.{kind}"
        try:
            await save_body(file_chunks(table), path, state.settings.max_upload_bytes, "a table")
            await run_in_threadpool(store_source, state, who.user, path, kind, name)
        except HTTPException as exc:
            return _error(who, exc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RedirectResponse("/jobs", status.HTTP_303_SEE_OTHER)


@router.post("/jobs")
def job_form(
    request: Request,
    source: str = Form(""),
    generator: str = Form("autoregressive"),
    rows: str = Form(""),
    seed: str = Form(""),
    epsilon: str = Form(""),
    delta: str = Form(""),
    domain_share: str = Form(""),
    evaluate: str = Form(""),
    target: str = Form(""),
    sensitive: str = Form(""),
    policy: str = Form(""),
    schema_text: str = Form(""),
    csrf: str = Form(""),
    who: Visitor = Depends(visitor),
) -> Response:
    import yaml
    from pydantic import ValidationError

    from synthgov.service.routers.jobs import JobRequest, submit_job

    _check_csrf(who, csrf)
    if who.user.role != "owner":
        return _error(who, HTTPException(status.HTTP_403_FORBIDDEN, "only owners start jobs"))
    try:
        try:
            declared = yaml.safe_load(schema_text) if schema_text.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"the schema is not valid YAML: {str(exc).splitlines()[0]}") from None
        given = (("epsilon", epsilon), ("delta", delta), ("domain_share", domain_share))
        params = {name: float(value) for name, value in given if value.strip()}
        body = JobRequest(
            source=source,
            generator=generator,
            rows=int(rows) if rows.strip() else None,
            seed=int(seed) if seed.strip() else None,
            params=params,
            evaluate=evaluate == "yes",
            target=target.strip() or None,
            sensitive=[c.strip() for c in sensitive.split(",") if c.strip()],
            policy=policy or None,
            schema=declared,
        )
        submit_job(request.app.state, who.user, body)
    except (ValueError, ValidationError) as exc:
        return _error(who, HTTPException(422, f"the job's fields: {str(exc).splitlines()[0]}"))
    except HTTPException as exc:
        return _error(who, exc)
    return RedirectResponse("/jobs", status.HTTP_303_SEE_OTHER)


@router.post("/jobs/{job_id}/retry")
def job_retry_form(job_id: str, request: Request, csrf: str = Form(""), who: Visitor = Depends(visitor)) -> Response:
    from synthgov.service.routers.jobs import retry_job

    _check_csrf(who, csrf)
    try:
        retry_job(request.app.state, who.user, job_id)
    except HTTPException as exc:
        return _error(who, exc)
    return RedirectResponse("/jobs", status.HTTP_303_SEE_OTHER)
