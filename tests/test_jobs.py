"""Jobs of the registry service: a registered source, a release made by a worker process with visible progress,
bad requests refused before any work, and a worker killed mid-job (the job is marked failed, nothing is visible,
a retry succeeds). SQLite and PostgreSQL, as the rest of the service's tests."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from synthgov.cli import run
from synthgov.service.admin import Admin
from synthgov.service.app import create_app
from synthgov.service.jobs import WORKER_STOPPED
from synthgov.service.settings import Settings
from test_service import auth, database  # noqa: F401 (the database fixture)


@pytest.fixture
def registry(tmp_path: Path, database: str):  # noqa: F811
    settings = Settings(home=tmp_path / "service-home", database=database, store=tmp_path / "store",
                        lineage=str(tmp_path / "lineage.jsonl"))  # fmt: skip
    app = create_app(settings)
    admin = Admin(app.state.sessions, app.state.chain_options)
    admin.add_user("olivia", "owner", Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem")
    admin.add_user("oscar", "owner", Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem")
    admin.add_user("carl", "consumer")
    admin.add_user("aude", "auditor")
    tokens = {name: admin.create_token(name) for name in ("olivia", "oscar", "carl", "aude")}
    with TestClient(app) as client:
        yield app, client, tokens


def add_source(client: TestClient, token: str, frame: pd.DataFrame) -> str:
    response = client.post("/api/v1/sources?name=adult", content=frame.to_csv(index=False).encode(),
                           headers={"Content-Type": "text/csv", **auth(token)})  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()["id"]


def wait_for(client: TestClient, token: str, job_id: str, states: set[str], timeout: float = 240.0) -> tuple:
    """Poll the job until it is in one of ``states``; the job and every step seen on the way."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=auth(token)).json()
        if job["step"] not in seen:
            seen.append(job["step"])
        if job["state"] in states:
            return job, seen
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s (steps seen: {seen})")


def test_a_job_makes_a_signed_release_with_visible_progress(registry, adult: pd.DataFrame, tmp_path: Path) -> None:
    app, client, tokens = registry
    source = add_source(client, tokens["olivia"], adult.head(2000))
    submitted = client.post("/api/v1/jobs", json={"source": source, "generator": "copula", "rows": 1500, "seed": 3},
                            headers=auth(tokens["olivia"]))  # fmt: skip
    assert submitted.status_code == 201 and submitted.json()["state"] == "queued"
    job, steps = wait_for(client, tokens["olivia"], submitted.json()["id"], {"done", "failed"})
    assert job["state"] == "done", job["error"]
    assert any(step.startswith(("fit", "analyze", "encode", "generate")) for step in steps), steps  # named steps
    release = client.get(f"/api/v1/releases/{job['release']}", headers=auth(tokens["olivia"])).json()
    assert release["owner"] == "olivia" and release["rows"] == 1500 and release["generator"] == "copula"
    # the service signed it: it verifies with the service's key, and a copy can be downloaded and names carl
    assert client.post(f"/api/v1/releases/{job['release']}/shares", json={"user": "carl"},
                       headers=auth(tokens["olivia"])).status_code == 201  # fmt: skip
    assert client.get(f"/api/v1/releases/{job['release']}/download", headers=auth(tokens["carl"])).status_code == 200
    assert release["signing_key_id"] == app.state.keystore.index()["signing_key_id"]
    trail = [(e["action"], e["target"]) for e in client.get("/api/v1/audit?limit=1000",
                                                           headers=auth(tokens["aude"])).json()]  # fmt: skip
    for action in ("job-submit", "job-start", "job-done"):
        assert (action, job["id"]) in trail
    assert client.get("/api/v1/audit/verify", headers=auth(tokens["aude"])).json()["valid"]
    # OpenLineage: the job's run started and completed with the release as its output, the release announced
    events = [json.loads(line) for line in Path(app.state.settings.lineage).read_text().splitlines()]
    runs = [(e["eventType"], e["job"]["name"]) for e in events]
    assert ("START", "registry-job.copula") in runs and ("COMPLETE", "registry-job.copula") in runs
    complete = next(e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith("registry-job"))
    assert complete["outputs"][0]["name"] == job["release"] and complete["inputs"][0]["name"] == f"sha256:{source}"
    assert any(e["job"]["name"] == "generate.copula" and e["outputs"][0]["name"] == job["release"] for e in events)
    # others see neither the source nor the job
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=auth(tokens["oscar"])).status_code == 404
    assert client.get("/api/v1/sources", headers=auth(tokens["oscar"])).json() == []


def test_bad_jobs_are_refused_before_any_work(registry, adult: pd.DataFrame) -> None:
    _, client, tokens = registry
    source = add_source(client, tokens["olivia"], adult.head(300))
    cases = [
        ("olivia", {"source": source, "generator": "nope"}, 422, "unknown generator"),
        ("olivia", {"source": source, "generator": "copula", "params": {"bogus": 1}}, 422, "bogus"),
        ("olivia", {"source": source, "rows": 0}, 422, ""),
        ("oscar", {"source": source, "generator": "copula"}, 404, "no such source"),
        ("carl", {"source": source, "generator": "copula"}, 403, "owner"),
    ]
    for who, body, code, text in cases:
        response = client.post("/api/v1/jobs", json=body, headers=auth(tokens[who]))
        assert response.status_code == code, (body, response.text)
        assert text in json.dumps(response.json())
    assert client.get("/api/v1/jobs", headers=auth(tokens["olivia"])).json() == []
    parquet = {"Content-Type": "application/vnd.apache.parquet", **auth(tokens["olivia"])}
    bad = client.post("/api/v1/sources", content=b"\x00\x01garbage", headers=parquet)
    assert bad.status_code == 422 and "not a readable parquet table" in bad.json()["detail"]
    text_plain = {"Content-Type": "text/plain", **auth(tokens["olivia"])}
    assert client.post("/api/v1/sources", content=b"a,b", headers=text_plain).status_code == 415


def test_a_worker_killed_mid_job_fails_the_job_and_a_retry_succeeds(registry, adult: pd.DataFrame) -> None:
    _, client, tokens = registry
    source = add_source(client, tokens["olivia"], adult.head(3000))
    body = {"source": source, "generator": "autoregressive", "rows": 500, "seed": 1, "params": {"epochs": 40}}
    job_id = client.post("/api/v1/jobs", json=body, headers=auth(tokens["olivia"])).json()["id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait until it trains, then kill its worker
        job = client.get(f"/api/v1/jobs/{job_id}", headers=auth(tokens["olivia"])).json()
        if job["state"] == "running" and "train" in job["step"]:
            break
        assert job["state"] in ("queued", "running"), job
        time.sleep(0.1)
    with registry[0].state.sessions() as db:
        from synthgov.service.models import Job

        worker = db.get(Job, job_id).worker
    os.kill(worker, signal.SIGKILL)
    job, _ = wait_for(client, tokens["olivia"], job_id, {"failed", "done"}, timeout=60)
    assert job["state"] == "failed" and job["error"] == WORKER_STOPPED and job["release"] is None
    assert client.get("/api/v1/releases", headers=auth(tokens["olivia"])).json() == []
    assert client.get("/api/v1/audit/verify", headers=auth(tokens["aude"])).json()["valid"]
    # the retry: a new attempt, faster settings are not allowed (same spec), so the same job runs again to the end
    again = client.post(f"/api/v1/jobs/{job_id}/retry", headers=auth(tokens["olivia"]))
    assert again.status_code == 200 and again.json()["attempt"] == 2
    assert client.post(f"/api/v1/jobs/{job_id}/retry", headers=auth(tokens["olivia"])).status_code == 409
    job, _ = wait_for(client, tokens["olivia"], job_id, {"failed", "done"}, timeout=600)
    assert job["state"] == "done", job["error"]
    assert [r["id"] for r in client.get("/api/v1/releases", headers=auth(tokens["olivia"])).json()] == [job["release"]]


def test_the_command_line_can_reach_no_server_without_a_clear_error(tmp_path: Path, capsys) -> None:
    assert run(["pull", "x", "--out", str(tmp_path / "o"), "--server", "http://127.0.0.1:9", "--token", "sg_x"]) == 2
    assert "error" in capsys.readouterr().err
