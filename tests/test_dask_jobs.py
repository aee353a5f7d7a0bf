"""The registry's jobs on a Dask cluster (``synthgov serve --executor dask:...``): a job runs as a task on a Dask
worker and registers its release; a worker killed mid-job is recovered by Dask (the task runs again on another
worker) and the job still ends with one complete release that verifies, and an audit chain that verifies.

The cluster is the one CI starts (``$SYNTHGOV_TEST_DASK``, a scheduler on loopback with two worker processes) or,
without it, a ``LocalCluster`` of two worker processes."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("distributed")

from fastapi.testclient import TestClient

from conftest import wait_for_dask_workers
from synthgov.service.admin import Admin
from synthgov.service.app import create_app
from synthgov.service.settings import Settings
from test_jobs import add_source, wait_for
from test_service import auth, database  # noqa: F401 (the database fixture)


@pytest.fixture
def scheduler(dask_scheduler: str) -> str:
    wait_for_dask_workers(dask_scheduler, 2)
    return dask_scheduler


def registry(tmp_path: Path, database_url: str, address: str):
    settings = Settings(home=tmp_path / "service-home", database=database_url, store=tmp_path / "store",
                        executor=f"dask:{address}")  # fmt: skip
    app = create_app(settings)
    admin = Admin(app.state.sessions, app.state.chain_options)
    admin.add_user("olivia", "owner", Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem")
    admin.add_user("aude", "auditor")
    return app, {name: admin.create_token(name) for name in ("olivia", "aude")}


def worker_pids(app) -> set[int]:
    client = app.state.executor.client()
    return set(client.run(os.getpid).values())


def test_a_job_runs_as_a_task_on_a_dask_worker(tmp_path: Path, database: str, scheduler: str, adult) -> None:  # noqa: F811
    app, tokens = registry(tmp_path, database, scheduler)
    with TestClient(app) as client:
        source = add_source(client, tokens["olivia"], adult.head(1500))
        body = {"source": source, "generator": "copula", "rows": 700, "seed": 4, "evaluate": False}
        job_id = client.post("/api/v1/jobs", json=body, headers=auth(tokens["olivia"])).json()["id"]
        job, _ = wait_for(client, tokens["olivia"], job_id, {"done", "failed"})
        assert job["state"] == "done", job["error"]
        with app.state.sessions() as db:
            from synthgov.service.models import Job

            worker = db.get(Job, job_id).worker
        assert worker in worker_pids(app) and worker != os.getpid()  # a Dask worker ran it, not the server
        release = client.get(f"/api/v1/releases/{job['release']}", headers=auth(tokens["olivia"])).json()
        assert release["rows"] == 700 and release["generator"] == "copula"
        assert client.get("/api/v1/audit/verify", headers=auth(tokens["aude"])).json()["valid"]
    assert app.state.executor._client is None  # the service's shutdown closed its Dask client


def test_a_dask_worker_killed_mid_job_is_recovered_by_dask(tmp_path: Path, scheduler: str, adult) -> None:
    app, tokens = registry(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}", scheduler)
    with TestClient(app) as client:
        source = add_source(client, tokens["olivia"], adult.head(3000))
        body = {"source": source, "generator": "autoregressive", "rows": 500, "seed": 1, "evaluate": False,
                "params": {"epochs": 40, "patience": None}}  # fmt: skip
        job_id = client.post("/api/v1/jobs", json=body, headers=auth(tokens["olivia"])).json()["id"]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # wait until it trains, then kill the worker process running it
            job = client.get(f"/api/v1/jobs/{job_id}", headers=auth(tokens["olivia"])).json()
            if job["state"] == "running" and "train" in job["step"]:
                break
            assert job["state"] in ("queued", "running"), job
            time.sleep(0.1)
        with app.state.sessions() as db:
            from synthgov.service.models import Job

            killed = db.get(Job, job_id).worker
        os.kill(killed, signal.SIGKILL)
        job, _ = wait_for(client, tokens["olivia"], job_id, {"done", "failed"}, timeout=600)
        assert job["state"] == "done" and job["attempt"] == 1, job  # the same attempt, finished by another worker
        with app.state.sessions() as db:
            assert db.get(Job, job_id).worker != killed
        releases = client.get("/api/v1/releases", headers=auth(tokens["olivia"])).json()
        assert [r["id"] for r in releases] == [job["release"]] and releases[0]["rows"] == 500  # none lost or doubled
        trail = [(e["action"], e["target"]) for e in client.get("/api/v1/audit?limit=1000",
                                                               headers=auth(tokens["aude"])).json()]  # fmt: skip
        assert trail.count(("job-start", job_id)) == 2 and trail.count(("job-done", job_id)) == 1
        assert client.get("/api/v1/audit/verify", headers=auth(tokens["aude"])).json()["valid"]
        # the release verifies: fetch its files back from the store and check them with the service's key
        from synthgov.release.verify import verify_release

        folder = tmp_path / "release"
        with app.state.sessions() as db:
            from synthgov.service.models import Release

            files = json.loads(db.get(Release, job["release"]).files)
        for name, digest in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            with app.state.store.open(digest) as f:
                (folder / name).write_bytes(f.read())
        key = tmp_path / "service.pub.pem"
        key.write_bytes(app.state.keystore.public_pem())
        checked = verify_release(folder, public_key=key)
        assert checked.valid, checked.problems


def test_an_unknown_executor_is_one_clear_error(tmp_path: Path, capsys) -> None:
    from synthgov.cli import run

    assert run(["serve", "--executor", "threads", "--db", f"sqlite:///{tmp_path / 'r.db'}"]) == 2
    assert "unknown job executor 'threads'" in capsys.readouterr().err
