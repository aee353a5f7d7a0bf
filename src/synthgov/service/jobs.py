"""Jobs: a release the service makes from a registered source, outside the request.

A job is a row (queued -> running -> done | failed). The executor runs :func:`run_job` elsewhere: by default in a
fresh worker process per job (:class:`ProcessExecutor`); :class:`synthgov.service.dask_executor.DaskExecutor`
runs jobs as tasks on a Dask cluster; anything with ``submit``, ``alive`` and ``close`` can replace them. The worker
generates the release with the service's own keys (its home), reports each named step of the pipeline into the
job's row, then registers the release exactly as a verified upload is registered (files content-addressed, its
row and audit entries in one transaction, an OpenLineage event). A worker that dies (killed, out of memory)
leaves its job ``running`` with a worker the executor no longer has: :func:`reap` marks such jobs failed ("the
worker stopped"), and a failed job can be retried as a new attempt. Nothing of a failed attempt is visible: its
release is registered only at the very end."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from synthgov.processes import alive
from synthgov.service import audit_log
from synthgov.service.models import Certificate, Job, Source, User, new_release, now
from synthgov.service.settings import Settings

logger = logging.getLogger(__name__)

WORKER_STOPPED = "the worker stopped before the job finished (killed or crashed); retry it"
PROGRESS_EVERY_S = 0.5


class Executor(Protocol):
    """Runs :func:`run_job` outside the request, and says whether a running job's worker still exists."""

    def submit(self, settings: Settings, job_id: str) -> None: ...

    def alive(self, job_id: str, worker: int | None) -> bool: ...

    def close(self) -> None: ...


class ProcessExecutor:
    """One fresh process per job (spawned: nothing of the server's state is inherited)."""

    def submit(self, settings: Settings, job_id: str) -> None:
        multiprocessing.active_children()  # joins the workers that have ended (no zombies pile up in a long run)
        process = multiprocessing.get_context("spawn").Process(target=run_job, args=(settings, job_id), daemon=False)
        process.start()
        logger.info("job %s started in worker process %s", job_id, process.pid)

    def alive(self, job_id: str, worker: int | None) -> bool:
        return alive(worker)

    def close(self) -> None:
        return None


class _JobReporter:
    """Writes the pipeline's current step and its progress into the job's row (at most every half second)."""

    def __init__(self, factory: Any, job_id: str) -> None:
        self.factory, self.job_id, self.last = factory, job_id, 0.0
        self.totals: dict[int, tuple[str, float | None, float]] = {}

    def show(self, step: str, fraction: float, force: bool = False) -> None:
        if not force and time.monotonic() - self.last < PROGRESS_EVERY_S:
            return
        self.last = time.monotonic()
        with self.factory() as db, db.begin():
            job = db.get(Job, self.job_id)
            job.step, job.progress, job.updated_at = step[:200], f"{fraction:.3f}", now()

    def start(self, description: str, total: float | None) -> object:
        handle = len(self.totals)
        self.totals[handle] = (description, total, 0.0)
        self.show(description, 0.0, force=True)
        return handle

    def advance(self, handle: object, amount: float, info: str | None = None) -> None:
        description, total, done = self.totals[handle]  # type: ignore[index]
        done += amount
        self.totals[handle] = (description, total, done)  # type: ignore[index]
        self.show(description, min(1.0, done / total) if total else 0.0)

    def finish(self, handle: object) -> None:
        description, _, _ = self.totals[handle]  # type: ignore[index]
        self.show(description, 1.0, force=True)


def run_job(settings: Settings, job_id: str) -> None:
    """The worker: generate the job's release with the service's keys, then register it. Never raises: the
    outcome is the job's state."""
    os.environ["SYNTHGOV_HOME"] = str(settings.home)  # the service's keystore, ledger and watermark plans
    from synthgov import progress
    from synthgov.release.keys import Keystore
    from synthgov.service.database import make_engine, sessions
    from synthgov.service.store import Store

    engine = make_engine(settings.database)
    factory = sessions(engine)
    keystore = Keystore(settings.home / "keys").ensure()
    options = {"keystore": keystore, "checkpoint_every": settings.checkpoint_every}
    store = Store(settings.store)
    with factory() as db, db.begin():
        job = db.get(Job, job_id)
        job.state, job.worker, job.updated_at = "running", os.getpid(), now()
        owner = db.get(User, job.owner_id).name
        source = db.get(Source, job.source_id)
        spec, source_format, source_id, attempt = json.loads(job.spec), source.format, source.id, job.attempt
        audit_log.append(db, owner, "job-start", job_id, {"attempt": job.attempt, "worker": os.getpid()}, **options)
    from synthgov.service.lineage import Lineage

    lineage = Lineage(settings.lineage)
    lineage.job_changed(job_id, attempt, "start", spec["generator"], source_id)
    work = Path(tempfile.mkdtemp(dir=store.root / "incoming"))
    try:
        table = work / f"source.{source_format}"
        with store.open(source_id) as src, table.open("wb") as out:
            shutil.copyfileobj(src, out)
        schema = None
        if spec.get("schema"):
            schema = work / "schema.json"
            schema.write_text(json.dumps(spec["schema"]), encoding="utf-8")
        import synthgov.pipeline as pipeline

        reporter = _JobReporter(factory, job_id)
        with progress.use_reporter(reporter):
            pipeline.generate(
                str(table),
                generator=spec["generator"],
                rows=spec.get("rows"),
                seed=spec.get("seed"),
                params=spec.get("params") or None,
                evaluate=bool(spec.get("evaluate", False)),
                target=spec.get("target"),
                sensitive=tuple(spec.get("sensitive") or ()),
                schema=schema,
                party=owner,
                out=work / "release",
            )
        certificate = None
        if spec.get("policy"):
            from synthgov.service.certificates import audit_folder

            reporter.show("audit", 0.0, force=True)
            document, digest = audit_folder(store, keystore, work / "release", keystore.public_pem(), spec["policy"],
                                            "synthgov registry job")  # fmt: skip
            certificate = (spec["policy"], document["statement"]["predicate"], digest)
        release_id = _register(work / "release", factory, store, owner, job_id, options, settings, certificate)
        lineage.job_changed(job_id, attempt, "complete", spec["generator"], source_id, release_id)
        logger.info("job %s done: release %s", job_id, release_id)
    except Exception as exc:  # the job's outcome, recorded; the worker itself ends normally
        logger.warning("job %s failed: %s", job_id, exc)
        message = f"{type(exc).__name__}: {exc}"[:2000]
        with factory() as db, db.begin():
            job = db.get(Job, job_id)
            job.state, job.error, job.updated_at = "failed", message, now()
            audit_log.append(db, owner, "job-failed", job_id, {"error": message[:300]}, **options)
        lineage.job_changed(job_id, attempt, "fail", spec["generator"], source_id)
        logger.debug("job %s traceback:\n%s", job_id, traceback.format_exc())
    finally:
        shutil.rmtree(work, ignore_errors=True)
        engine.dispose()


def _register(
    folder: Path,
    factory: Any,
    store: Any,
    owner: str,
    job_id: str,
    options: dict,
    settings: Settings,
    certificate: tuple[str, dict, str] | None = None,
) -> str:
    """Register the job's release as an upload is: objects first, then its row, its audit certificate (``(policy,
    predicate, digest)``, whether it passed or not: the release page shows it), the job's state and the audit
    entries in one transaction."""
    from synthgov.release.verify import load_manifest
    from synthgov.service.lineage import Lineage

    manifest = load_manifest(folder)
    predicate = manifest["statement"]["predicate"]
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    digests = {name: store.put(folder / name) for name in files}
    release_id = str(predicate["release"]["id"])
    with factory() as db, db.begin():
        user = db.scalars(select(User).where(User.name == owner)).one()
        db.add(new_release(user.id, predicate, digests))
        job = db.get(Job, job_id)
        job.state, job.release_id, job.step, job.progress, job.updated_at = "done", release_id, "done", "1", now()
        if certificate is not None:
            policy, audited, digest = certificate
            db.add(Certificate(id=str(uuid.uuid4()), release_id=release_id, policy=policy,
                               passed=bool(audited["passed"]), summary=str(audited["summary"]), auditor_id=None,
                               object_sha256=digest))  # fmt: skip
            detail = {"policy": policy, "passed": bool(audited["passed"]), "certificate_sha256": digest}
            audit_log.append(db, "synthgov registry job", "audit", release_id, detail, **options)
        detail = {"release": release_id, "manifest_sha256": digests["manifest.json"]}
        audit_log.append(db, owner, "job-done", job_id, detail, **options)
    Lineage(settings.lineage).release_registered(manifest, digests["manifest.json"])
    return release_id


def reap(factory: Any, options: dict, executor: Executor | None = None) -> int:
    """Mark failed every running job whose worker is gone (asked of ``executor``; by default: is its process
    alive on this host); how many."""
    marked = 0
    with factory() as db, db.begin():
        for job in db.scalars(select(Job).where(Job.state == "running")):
            if not (executor.alive(job.id, job.worker) if executor is not None else alive(job.worker)):
                job.state, job.error, job.updated_at = "failed", WORKER_STOPPED, now()
                owner = db.get(User, job.owner_id).name
                audit_log.append(db, owner, "job-failed", job.id, {"error": WORKER_STOPPED}, **options)
                marked += 1
    return marked
