"""``/api/v1/sources`` and ``/api/v1/jobs``: owners register real tables and ask the service for releases made
from them; the work runs in a worker (:mod:`synthgov.service.jobs`) and its progress is the job's row."""

from __future__ import annotations

import json
import shutil
import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from synthgov.errors import SynthgovError
from synthgov.governance.audit import SHIPPED
from synthgov.service import audit_log
from synthgov.service.auth import current_user, role
from synthgov.service.jobs import reap
from synthgov.service.models import Job, Source, User, now
from synthgov.service.routers.bodies import save_body
from synthgov.service.schemas import problems

router = APIRouter(prefix="/api/v1", tags=["jobs"], responses=problems(401, 403, 404, 422, 429))
FORMATS = {"text/csv": "csv", "application/vnd.apache.parquet": "parquet"}
SOURCE_BODY = {
    "requestBody": {
        "required": True,
        "description": "the real table, as CSV or Parquet",
        "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in FORMATS},
    }
}


class SourceOut(BaseModel):
    id: str
    name: str
    format: str
    owner: str
    created_at: str


def _generators() -> list[str]:
    from synthgov.generators import registry

    return [name for name in registry.available() if name != "rules"]  # rules needs a spec, not a source


def dp_generators() -> list[str]:
    """The generators that take a privacy budget (``epsilon``) among their parameters."""
    from synthgov.generators import registry

    return [name for name in _generators() if "epsilon" in registry.synthesizer(name).get_params()]


class JobRequest(BaseModel):
    source: str = Field(pattern=r"^[0-9a-f]{64}$", description="the source's id (its SHA-256, hexadecimal)")
    generator: str = Field("autoregressive", max_length=40, json_schema_extra={"enum": _generators()})
    rows: int | None = Field(None, ge=1, le=10_000_000)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="the generator's parameters (as `--param`; `epsilon` and `delta` for the DP generators), checked "
        "by the generator",
    )
    evaluate: bool = Field(True, description="write the evaluation report into the release (as `--evaluate`)")
    target: str | None = Field(None, max_length=200, description="the label column the report's utility uses")
    sensitive: list[str] = Field(default_factory=list, max_length=20, description="columns the bias report groups by")
    schema_: dict[str, Any] | None = Field(
        None,
        alias="schema",
        description="the source's schema (`synthgov schema` writes it; as JSON): column kinds and, for the DP "
        "generators, the domains declared public",
    )
    policy: str | None = Field(
        None,
        json_schema_extra={"enum": list(SHIPPED)},
        description="audit the release against this shipped policy; its certificate, signed by the service, is "
        "stored with the release (as `synthgov audit`)",
    )

    @model_validator(mode="after")
    def _partitions_are_not_evaluated(self) -> JobRequest:
        from synthgov.pipeline.streaming import STREAM_ROWS

        if self.evaluate and self.rows is not None and self.rows > STREAM_ROWS:
            raise ValueError(
                f"a release of more than {STREAM_ROWS:,} rows is written in partitions, which are not evaluated: "
                "set evaluate to false, or ask for fewer rows"
            )
        return self


class JobOut(BaseModel):
    id: str
    state: str
    attempt: int
    step: str
    progress: float
    error: str | None
    release: str | None
    spec: dict[str, Any]
    created_at: str
    updated_at: str


def _job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id, state=job.state, attempt=job.attempt, step=job.step, progress=float(job.progress),
        error=job.error, release=job.release_id, spec=json.loads(job.spec), created_at=job.created_at,
        updated_at=job.updated_at,
    )  # fmt: skip


@router.post(
    "/sources",
    status_code=status.HTTP_201_CREATED,
    response_model=SourceOut,
    responses=problems(413, 415),
    openapi_extra=SOURCE_BODY,
)
async def add_source(
    request: Request,
    name: str = Query("source", min_length=1, max_length=200, description="A name to show for it."),
    user: User = Depends(role("owner")),
) -> SourceOut:
    state = request.app.state
    kind = FORMATS.get(request.headers.get("content-type", "").split(";")[0].strip())
    if kind is None:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send the table as {' or '.join(FORMATS)}")
    work = state.store.incoming()
    try:
        path = work / f"table.{kind}"
        await save_body(request.stream(), path, state.settings.max_upload_bytes, "a table")
        return await run_in_threadpool(store_source, state, user, path, kind, name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def store_source(state: Any, user: User, path: Any, kind: str, name: str) -> SourceOut:
    """Register the table at ``path`` as ``user``'s source (the API's and the dashboard's)."""
    from synthgov.table.io import read_table

    try:
        read_table(path)  # a table we can read, or one clear reason
    except SynthgovError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"not a readable {kind} table: {exc}") from None
    digest = state.store.put(path)
    with state.sessions() as db, db.begin():
        source = db.get(Source, digest)
        if source is None:
            source = Source(id=digest, owner_id=user.id, name=name, format=kind)
            db.add(source)
            audit_log.append(db, user.name, "source-add", digest, {"name": name, "format": kind}, **state.chain_options)
        elif source.owner_id != user.id:
            raise HTTPException(status.HTTP_409_CONFLICT, "another owner registered this table")
        return SourceOut(id=source.id, name=source.name, format=source.format, owner=user.name,
                         created_at=source.created_at)  # fmt: skip


@router.get("/sources", response_model=list[SourceOut])
def list_sources(request: Request, user: User = Depends(current_user)) -> list[SourceOut]:
    with request.app.state.sessions() as db:
        names = {u.id: u.name for u in db.scalars(select(User))}
        rows = db.scalars(select(Source).order_by(Source.created_at))
        return [
            SourceOut(id=s.id, name=s.name, format=s.format, owner=names[s.owner_id], created_at=s.created_at)
            for s in rows
            if user.role == "auditor" or s.owner_id == user.id
        ]


@router.post("/jobs", status_code=status.HTTP_201_CREATED, response_model=JobOut)
def submit(body: JobRequest, request: Request, user: User = Depends(role("owner"))) -> JobOut:
    return submit_job(request.app.state, user, body)


def submit_job(state: Any, user: User, body: JobRequest) -> JobOut:
    """Queue a job on ``user``'s source and hand it to the executor (the API's and the dashboard's)."""
    from synthgov.generators import registry

    try:  # the generator and its parameters, checked before any work is queued
        registry.synthesizer(body.generator, **body.params)
    except SynthgovError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if body.policy is not None and body.policy not in SHIPPED:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"policy {body.policy!r} is not a shipped policy ({', '.join(SHIPPED)})")  # fmt: skip
    if not body.evaluate and (body.target is not None or body.sensitive or body.policy is not None):
        needs = "a target, sensitive columns and a policy audit need the evaluation (evaluate: true)"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, needs)
    spec = body.model_dump(exclude={"source"}, by_alias=True)
    with state.sessions() as db:
        source = db.get(Source, body.source)
        if source is None or source.owner_id != user.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such source of yours")
    columns = source_columns(state, source)
    if body.schema_ is not None:
        from synthgov.table.schema import Schema

        try:
            Schema.from_dict(body.schema_).check_against(columns)
        except SynthgovError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    missing = [c for c in [body.target, *body.sensitive] if c is not None and c not in columns]
    if missing:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"the source {source.name!r} has no column {', '.join(map(repr, missing))}")  # fmt: skip
    with state.sessions() as db, db.begin():
        job = Job(id=str(uuid.uuid4()), owner_id=user.id, source_id=source.id, spec=json.dumps(spec), state="queued",
                  attempt=1, step="queued", progress="0")  # fmt: skip
        db.add(job)
        audit_log.append(db, user.name, "job-submit", job.id, spec, **state.chain_options)
        out = _job_out(job)
    state.executor.submit(state.settings, out.id)
    return out


def source_columns(state: Any, source: Source) -> list[str]:
    """The column names of a registered source, read from its header (CSV) or schema (Parquet) only."""
    import pyarrow.parquet as pq

    with state.store.open(source.id) as f:
        if source.format == "parquet":
            return list(pq.read_schema(f).names)
        import pandas as pd

        return [str(c) for c in pd.read_csv(f, nrows=0).columns]


def _readable_job(db: Any, user: User, job_id: str) -> Job:
    job = db.get(Job, job_id)
    if job is None or (user.role != "auditor" and job.owner_id != user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id!r} of yours")
    return job


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(request: Request, user: User = Depends(current_user)) -> list[JobOut]:
    return visible_jobs(request.app.state, user)


def visible_jobs(state: Any, user: User) -> list[JobOut]:
    """The jobs ``user`` may see (their own; an auditor all), dead workers' jobs marked failed first."""
    reap(state.sessions, state.chain_options, state.executor)
    with state.sessions() as db:
        rows = db.scalars(select(Job).order_by(Job.created_at))
        return [_job_out(j) for j in rows if user.role == "auditor" or j.owner_id == user.id]


@router.get("/jobs/{job_id}", response_model=JobOut)
def read_job(job_id: str, request: Request, user: User = Depends(current_user)) -> JobOut:
    state = request.app.state
    reap(state.sessions, state.chain_options, state.executor)
    with state.sessions() as db:
        return _job_out(_readable_job(db, user, job_id))


@router.post("/jobs/{job_id}/retry", response_model=JobOut, responses=problems(409))
def retry(job_id: str, request: Request, user: User = Depends(role("owner"))) -> JobOut:
    return retry_job(request.app.state, user, job_id)


def retry_job(state: Any, user: User, job_id: str) -> JobOut:
    """A failed job's next attempt (the API's and the dashboard's)."""
    reap(state.sessions, state.chain_options, state.executor)
    with state.sessions() as db, db.begin():
        job = _readable_job(db, user, job_id)
        if job.owner_id != user.id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only the job's owner retries it")
        if job.state != "failed":
            raise HTTPException(status.HTTP_409_CONFLICT, f"only a failed job is retried; this one is {job.state}")
        job.state, job.attempt, job.error, job.worker = "queued", job.attempt + 1, None, None
        job.step, job.progress, job.updated_at = "queued", "0", now()
        audit_log.append(db, user.name, "job-retry", job.id, {"attempt": job.attempt}, **state.chain_options)
        out = _job_out(job)
    state.executor.submit(state.settings, out.id)
    return out
