"""Jobs of the registry service: a registered source, a release made by a worker process with visible progress,
bad requests refused before any work, and a worker killed mid-job (the job is marked failed, nothing is visible,
a retry succeeds). SQLite and PostgreSQL, as the rest of the service's tests."""

from __future__ import annotations

import json
import os
import re
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
    body = {"source": source, "generator": "copula", "rows": 1500, "seed": 3, "target": "income",
            "sensitive": ["sex"], "policy": "internal-sharing"}  # fmt: skip
    submitted = client.post("/api/v1/jobs", json=body, headers=auth(tokens["olivia"]))
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
    # its report is in the release, and its audit certificate (signed by the service) is stored with it
    assert "evaluation/report.html" in release["files"] or any("report" in f for f in release["files"]), release
    [certificate] = client.get(f"/api/v1/releases/{job['release']}/audits", headers=auth(tokens["aude"])).json()
    assert certificate["policy"] == "internal-sharing" and "audit" in steps
    assert certificate["auditor"] == "the service, as the job asked"
    document = client.get(f"/api/v1/releases/{job['release']}/audits/{certificate['id']}", headers=auth(tokens["aude"]))
    predicate = document.json()["statement"]["predicate"]
    assert predicate["passed"] == certificate["passed"] and predicate["clauses"], predicate
    measured = {c["fact"]: c["measured"] for c in predicate["clauses"]}
    assert 0.5 < measured["fidelity.overall"] <= 1 and measured["release.verified"] is True, measured
    # an auditor's own audit of the job's release verifies it with the service's key (the service signed it)
    again = client.post(f"/api/v1/releases/{job['release']}/audits", json={"policy": "internal-sharing"},
                        headers=auth(tokens["aude"]))  # fmt: skip
    assert again.status_code == 201 and again.json()["auditor"] == "aude"
    assert again.json()["summary"] == certificate["summary"]  # the same release, policy and evaluation
    certificate_file = tmp_path / "certificate.json"
    certificate_file.write_bytes(document.content)
    service_key = tmp_path / "service.pub.pem"
    service_key.write_bytes(app.state.keystore.public_pem())
    assert run(["verify", str(certificate_file), "--public-key", str(service_key)]) == 0
    trail = [(e["action"], e["target"]) for e in client.get("/api/v1/audit?limit=1000",
                                                           headers=auth(tokens["aude"])).json()]  # fmt: skip
    for action in ("job-submit", "job-start", "job-done"):
        assert (action, job["id"]) in trail
    assert ("audit", job["release"]) in trail
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
        ("olivia", {"source": source, "generator": "copula", "policy": "lenient"}, 422, "not a shipped policy"),
        ("olivia", {"source": source, "generator": "copula", "target": "salary"}, 422, "no column 'salary'"),
        ("olivia", {"source": source, "generator": "copula", "sensitive": ["sex", "race", "x"]}, 422, "no column 'x'"),
        (
            "olivia",
            {"source": source, "generator": "copula", "evaluate": False, "policy": "internal-sharing"},
            422,
            "need the evaluation",
        ),
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


def test_the_jobs_command_line_submits_follows_and_retries(tmp_path: Path, database: str, adult, capsys) -> None:  # noqa: F811
    """``synthgov jobs`` against a running server: a table registered and a job followed to its release; a job
    that fails (mst without declared or estimated domains) exits 1 with the worker's reason; retry; bad input is
    one line (exit 2)."""
    import socket
    import threading

    import uvicorn

    settings = Settings(home=tmp_path / "service-home", database=database, store=tmp_path / "store")
    app = create_app(settings)
    admin = Admin(app.state.sessions, app.state.chain_options)
    admin.add_user("olivia", "owner", Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem")
    token = admin.create_token("olivia")
    table = tmp_path / "adult.csv"
    adult.head(400).to_csv(table, index=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        where = ["--server", f"http://127.0.0.1:{port}", "--token", token]
        capsys.readouterr()
        assert (
            run(["jobs", "submit", str(table), "-g", "copula", "-n", "150", "--seed", "2", "--no-evaluate", *where])
            == 0
        )
        said = capsys.readouterr().out
        source_id = re.search(r"registered as ([0-9a-f]{64})", said).group(1)
        release_id = re.search(r"done: release (\S+)", said).group(1)
        with app.state.sessions() as db:
            from synthgov.service.models import Release

            assert db.get(Release, release_id).rows == 150
        # by the source's id; mst needs its domains declared (no schema) or a share of epsilon to estimate them
        assert run(["jobs", "submit", source_id, "-g", "mst", "--epsilon", "1", "--no-evaluate", *where]) == 1
        failure = capsys.readouterr()
        assert "failed" in failure.err and "domain" in failure.err, failure.err
        assert run(["jobs", "list", *where]) == 0
        listed = capsys.readouterr().out.splitlines()
        assert len(listed) == 2 and "done" in listed[0] and release_id in listed[0] and "failed" in listed[1]
        failed_id = listed[1].split()[0]
        assert run(["jobs", "retry", failed_id, "--no-wait", *where]) == 0
        assert "attempt 2 queued" in capsys.readouterr().out
        assert run(["jobs", "show", failed_id, "--wait", *where]) == 1  # the same spec fails again, the same way
        # with the source's schema, its domains declared public, the DP job runs and charges the service's ledger
        schema = tmp_path / "adult.schema.yaml"
        assert run(["schema", str(table), "--domains", "--out", str(schema)]) == 0
        dp = ["jobs", "submit", source_id, "-g", "mst", "--epsilon", "1", "--schema", str(schema), "--no-evaluate"]
        assert run([*dp, *where]) == 0
        private_release = re.search(r"done: release (\S+)", capsys.readouterr().out).group(1)
        with app.state.sessions() as db:
            from synthgov.service.models import Release

            manifest_digest = json.loads(db.get(Release, private_release).files)["manifest.json"]
        with app.state.store.open(manifest_digest) as f:
            privacy = json.loads(f.read())["statement"]["predicate"]["privacy"]
        assert privacy["epsilon"] == 1.0 and privacy["delta"] > 0
        wrong = tmp_path / "wrong.schema.json"
        wrong.write_text(json.dumps({"version": 1, "columns": {"age": {"kind": "numeric"}}}))
        assert run(["jobs", "submit", source_id, "-g", "mst", "--schema", str(wrong), *where]) == 2
        assert "schema" in capsys.readouterr().err  # the schema does not describe the source (one column of 15)
        # user mistakes: one line, exit 2, nothing queued
        assert run(["jobs", "submit", str(tmp_path / "notes.txt"), *where]) == 2
        assert "a source is a .csv or .parquet table" in capsys.readouterr().err
        assert run(["jobs", "submit", source_id, "-g", "copula", "--param", "nope=1", *where]) == 2
        assert "no parameter 'nope'" in capsys.readouterr().err
        assert run(["jobs", "submit", source_id, "-g", "copula", "--policy", "lax", *where]) == 2
        assert "not a shipped policy" in capsys.readouterr().err
        assert run(["jobs", "show", "nope", *where]) == 2
    finally:
        server.should_exit = True
        thread.join(timeout=10)
