"""The registry service: migrations, authentication on every endpoint, roles and shares, verified uploads and
what is refused, recipient copies that name their recipient, and the audit chain against tampering done directly
in the database. The database is SQLite by default, PostgreSQL when ``SYNTHGOV_TEST_DATABASE`` names one."""

from __future__ import annotations

import io
import itertools
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from synthgov.cli import run
from synthgov.errors import InputError
from synthgov.release.keys import Keystore
from synthgov.service.admin import Admin
from synthgov.service.app import create_app
from synthgov.service.auth import token_digest
from synthgov.service.settings import Settings

ZIP = {"Content-Type": "application/zip"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a new database on the PostgreSQL that
    ``SYNTHGOV_TEST_DATABASE`` names (``.ci/run`` starts one; skipped when none is configured)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    base = os.environ.get("SYNTHGOV_TEST_DATABASE")
    if not base:
        pytest.skip('no PostgreSQL configured (SYNTHGOV_TEST_DATABASE; eval "$(bash .ci/postgres start)")')
    name = f"t{os.getpid()}_{time.monotonic_ns()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, adult: pd.DataFrame) -> Path:
    """A signed release of the session's issuer (its keystore is the owner's)."""
    folder = tmp_path_factory.mktemp("issuer") / "release"
    data = folder.parent / "data.csv"
    adult.head(3000).to_csv(data, index=False)
    home = tmp_path_factory.getbasetemp() / "synthgov-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHGOV_HOME", str(home))
        assert run(["generate", str(data), "-g", "copula", "--rows", "3000", "--seed", "1", "--out", str(folder)]) == 0
    return folder


@pytest.fixture
def service(tmp_path: Path, database: str):
    settings = Settings(
        home=tmp_path / "service-home",
        database=database,
        store=tmp_path / "store",
        max_upload_bytes=5 * 2**20,
        failed_logins=5,
        checkpoint_every=3,
        lineage=str(tmp_path / "lineage.jsonl"),
    )
    app = create_app(settings)
    admin = Admin(app.state.sessions, app.state.chain_options)
    issuer_key = Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem"
    admin.add_user("alice", "owner", issuer_key)
    admin.add_user("bob", "consumer")
    admin.add_user("carol", "consumer")
    admin.add_user("audrey", "auditor")
    tokens = {name: admin.create_token(name) for name in ("alice", "bob", "carol", "audrey")}
    with TestClient(app) as client:
        yield app, client, tokens, admin


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def zipped(folder: Path, extra: dict[str, bytes] | None = None, edit: dict[str, bytes] | None = None,
           skip: str = "") -> bytes:  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if name == skip:
                continue
            archive.writestr(name, (edit or {}).get(name, path.read_bytes()))
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def upload(client: TestClient, token: str, body: bytes, headers: dict | None = None):
    return client.post("/api/v1/releases", content=body, headers={**ZIP, **auth(token), **(headers or {})})


# -- schema and authentication -------------------------------------------------------------------------------------
def test_the_migrations_build_exactly_the_models_schema(service) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from synthgov.service.models import Base

    app = service[0]
    with app.state.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_every_endpoint_refuses_a_request_without_a_valid_token(service) -> None:
    from synthgov.service.auth import FailedLogins

    app, client, tokens, _ = service
    app.state.failed = FailedLogins(10**6, 60.0)  # this test fails on purpose many times
    routes = [(p, m.upper()) for p, methods in app.openapi()["paths"].items() for m in methods]
    routes.append(("/api/v1/openapi.json", "GET"))  # not in the schema it serves
    assert len(routes) >= 9
    for (route, method), headers in itertools.product(
        routes, [{}, auth("sg_not-a-token"), {"Authorization": f"Basic {tokens['bob']}"}]
    ):
        response = client.request(method, route.replace("{release_id}", "x"), headers=headers)
        assert response.status_code == 401, (method, route, headers)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404
    assert client.get("/api/v1/openapi.json", headers=auth(tokens["bob"])).json()["info"]["title"]


def test_failed_logins_are_limited_audited_and_tokens_never_stored_or_logged(service, caplog) -> None:
    app, client, tokens, _admin = service
    secret = "sg_" + "x" * 40
    codes = [client.get("/api/v1/me", headers=auth(secret)).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert client.get("/api/v1/me", headers=auth(tokens["bob"])).status_code == 429  # the address is held off
    assert secret not in caplog.text and secret[10:] not in caplog.text
    with app.state.engine.connect() as connection:
        details = [row[0] for row in connection.execute(text("SELECT detail FROM audit_entries"))]
        stored = [row[0] for row in connection.execute(text("SELECT digest FROM tokens"))]
    assert sum('"sg_xxxx..."' in d for d in details) == 5 and not any(secret in d for d in details)
    assert token_digest(tokens["bob"]) in stored and tokens["bob"] not in stored


def test_a_revoked_token_stops_working(service) -> None:
    _app, client, tokens, admin = service
    assert client.get("/api/v1/me", headers=auth(tokens["carol"])).json() == {"name": "carol", "role": "consumer"}
    assert admin.revoke_tokens("carol") == 1
    assert client.get("/api/v1/me", headers=auth(tokens["carol"])).status_code == 401


# -- uploads --------------------------------------------------------------------------------------------------------
def test_the_whole_flow_upload_share_download_and_the_copy_names_its_recipient(service, release, tmp_path) -> None:
    app, client, tokens, _ = service
    response = upload(client, tokens["alice"], zipped(release))
    assert response.status_code == 201, response.text
    release_id = response.json()["id"]
    assert release_id == json.loads((release / "manifest.json").read_text())["statement"]["predicate"]["release"]["id"]
    assert upload(client, tokens["alice"], zipped(release)).status_code == 409
    # the OpenLineage index: one completed run whose output is the release, whose input is its source
    [event] = [json.loads(line) for line in (Path(app.state.settings.lineage)).read_text().splitlines()]
    signed = json.loads((release / "manifest.json").read_text())["statement"]["predicate"]
    assert event["eventType"] == "COMPLETE" and event["outputs"][0]["name"] == release_id
    assert event["inputs"][0]["name"] == f"sha256:{signed['source']['sha256']}"
    assert event["run"]["facets"]["synthgov"]["generator"] == "copula"
    assert event["run"]["facets"]["synthgov"]["manifest_sha256"] == response.json()["manifest_sha256"]
    # not shared yet: bob sees nothing and may not download
    assert client.get("/api/v1/releases", headers=auth(tokens["bob"])).json() == []
    assert client.get(f"/api/v1/releases/{release_id}/download", headers=auth(tokens["bob"])).status_code == 403
    assert client.post(f"/api/v1/releases/{release_id}/shares", json={"user": "bob"},
                       headers=auth(tokens["bob"])).status_code == 403  # fmt: skip
    shared = client.post(f"/api/v1/releases/{release_id}/shares", json={"user": "bob"}, headers=auth(tokens["alice"]))
    assert shared.status_code == 201
    detail = client.get(f"/api/v1/releases/{release_id}", headers=auth(tokens["bob"])).json()
    assert detail["shared_with"] == ["bob"] and detail["manifest"]["statement"]["predicate"]["release"]["id"]
    assert client.get(f"/api/v1/releases/{release_id}", headers=auth(tokens["carol"])).status_code == 403
    got = client.get(f"/api/v1/releases/{release_id}/download", headers=auth(tokens["bob"]))
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        archive.extractall(tmp_path / "bob")
    copy = tmp_path / "bob" / release_id
    # the copy verifies with the service's key, says whose copy of what it is, and its rows name bob
    public = tmp_path / "service.pem"
    public.write_text(client.get("/api/v1/service/public-key", headers=auth(tokens["bob"])).text)
    assert run(["verify", str(copy), "--public-key", str(public)]) == 0
    manifest = json.loads((copy / "manifest.json").read_text())["statement"]["predicate"]
    assert manifest["copy"]["recipient"] == "bob" and manifest["copy"]["of_release"] == release_id
    assert manifest["copy"]["of_manifest_sha256"] == detail["manifest_sha256"]
    original = pd.read_parquet(release / "synthetic.parquet")
    marked = pd.read_parquet(copy / "synthetic.parquet")
    assert marked.shape == original.shape and not marked.equals(original)
    with pytest.MonkeyPatch.context() as patch:  # detection on the server's host: the service's home
        patch.setenv("SYNTHGOV_HOME", str(app.state.settings.home))
        from synthgov.release.keys import watermark_key_id
        from synthgov.watermark import detect, registry

        secret = app.state.keystore.watermark_secret()
        found = detect(marked, registry.plans_for(watermark_key_id(secret)), secret, watermark_key_id(secret))
    assert found.p_value < 1e-6 and found.recipient == "bob"
    # ... and the registry says so to an auditor or an owner, over the API (a consumer may not ask)
    suspect = {"Content-Type": "application/vnd.apache.parquet"}
    body = (copy / "synthetic.parquet").read_bytes()
    assert client.post("/api/v1/detect", content=body, headers={**suspect, **auth(tokens["bob"])}).status_code == 403
    asked = client.post("/api/v1/detect", content=body, headers={**suspect, **auth(tokens["audrey"])}).json()
    assert asked["found"] and asked["recipient"] == "bob"
    unmarked = (release / "synthetic.parquet").read_bytes()  # the original: the issuer's mark, not a registry copy
    assert not client.post("/api/v1/detect", content=unmarked, headers={**suspect, **auth(tokens["alice"])}).json()[
        "found"
    ]
    # the auditor audits it against a shipped policy: a certificate signed by the service, stored with the release
    audits = f"/api/v1/releases/{release_id}/audits"
    assert client.post(audits, json={"policy": "internal-sharing"}, headers=auth(tokens["bob"])).status_code == 403
    assert client.post(audits, json={"policy": "../etc"}, headers=auth(tokens["audrey"])).status_code == 422
    made = client.post(audits, json={"policy": "internal-sharing"}, headers=auth(tokens["audrey"]))
    assert made.status_code == 201, made.text
    listed = client.get(audits, headers=auth(tokens["bob"])).json()
    assert [c["id"] for c in listed] == [made.json()["id"]] and listed[0]["auditor"] == "audrey"
    certificate = tmp_path / "certificate.json"
    certificate.write_bytes(client.get(f"{audits}/{made.json()['id']}", headers=auth(tokens["bob"])).content)
    signed = json.loads(certificate.read_text())["statement"]["predicate"]
    assert signed["release"]["verified"] and signed["passed"] == made.json()["passed"]
    assert run(["verify", str(certificate), "--public-key", str(public)]) == 0  # the signature holds
    # the auditor sees every step, and the chain verifies
    trail = client.get("/api/v1/audit?limit=1000", headers=auth(tokens["audrey"])).json()
    actions = [(e["actor"], e["action"], e["target"]) for e in trail]
    for step in [("alice", "upload", release_id), ("alice", "share", release_id), ("bob", "download", release_id),
                 ("audrey", "audit", release_id)]:  # fmt: skip
        assert step in actions
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    assert client.get("/api/v1/audit", headers=auth(tokens["bob"])).status_code == 403
    status = client.get("/api/v1/audit/verify", headers=auth(tokens["audrey"])).json()
    assert status["valid"] and status["checkpoints"] == status["entries"] // 3


@pytest.mark.parametrize(
    ("body", "headers", "code", "reason"),
    [
        ("tampered", {}, 422, "does not verify"),
        ("unsigned", {}, 422, "files the signature does not cover: notes.txt"),
        ("traversal", {}, 422, "absolute or parent paths"),
        ("absolute", {}, 422, "absolute or parent paths"),
        ("not-zip", {}, 422, "not a zip file"),
        ("valid", {"Content-Type": "text/csv"}, 415, "application/zip"),
        ("huge", {}, 413, "at most"),
        ("no-manifest", {}, 422, "no manifest.json"),
        ("damaged", {}, 422, "the zip is damaged"),
    ],
)
def test_bad_uploads_are_refused_with_the_reason(service, release, body, headers, code, reason) -> None:
    app, client, tokens, _ = service
    parquet = (release / "synthetic.parquet").read_bytes()
    bodies = {
        "tampered": lambda: zipped(release, edit={"synthetic.parquet": parquet[:-100] + bytes(100)}),
        "unsigned": lambda: zipped(release, extra={"notes.txt": b"hello"}),
        "traversal": lambda: zipped(release, extra={"../escape.txt": b"x"}),
        "absolute": lambda: zipped(release, extra={"/etc/escape": b"x"}),
        "not-zip": lambda: b"a,b\n1,2\n",
        "valid": lambda: zipped(release),
        "huge": lambda: b"0" * (6 * 2**20),
        "no-manifest": lambda: zipped(release, skip="manifest.json"),
        "damaged": lambda: zipped(release).replace(b"synthgov", b"synthgoV"),  # CRC mismatches
    }
    response = upload(client, tokens["alice"], bodies[body](), headers)
    assert response.status_code == code, response.text
    assert reason in response.json()["detail"]
    assert client.get("/api/v1/releases", headers=auth(tokens["alice"])).json() == []  # nothing stored
    assert not (tmp := app.state.settings.store / "incoming").exists() or not any(tmp.iterdir())
    assert not escaped(app.state.settings.store)


def escaped(store: Path) -> bool:
    return any((p / "escape.txt").exists() for p in (store, store.parent, store / "incoming"))


def test_only_owners_upload_and_only_with_their_own_key(service, release, tmp_path) -> None:
    _app, client, tokens, admin = service
    assert upload(client, tokens["bob"], zipped(release)).status_code == 403
    other = Keystore(tmp_path / "other" / "keys")
    other.init()
    (tmp_path / "other.pem").write_bytes(other.public_pem())
    admin.add_user("mallory", "owner", tmp_path / "other.pem")
    response = upload(client, admin_token := admin.create_token("mallory"), zipped(release))
    assert response.status_code == 422 and "upload refused" in response.json()["detail"]
    assert client.get("/api/v1/releases", headers=auth(admin_token)).json() == []


def test_a_key_change_refuses_the_old_key_for_new_uploads_and_keeps_old_releases_verifiable(
    service, release, tmp_path, adult, monkeypatch
) -> None:
    """``synthgov users set-key``: after it, a release signed with the old key is refused, one signed with the new
    key stored; a release uploaded before the change still passes an auditor's audit (verified with the key that
    signed it); the change is in the audit trail; a consumer has no key to change."""
    _app, client, tokens, admin = service
    assert upload(client, tokens["alice"], zipped(release)).status_code == 201  # signed with the issuer's key
    data = tmp_path / "data.csv"
    adult.head(400).to_csv(data, index=False)
    second = tmp_path / "second"  # another release signed with the old (issuer's) key
    assert run(["generate", str(data), "-g", "copula", "--seed", "2", "--out", str(second)]) == 0
    new_home = tmp_path / "new-home"
    with monkeypatch.context() as patch:
        patch.setenv("SYNTHGOV_HOME", str(new_home))
        rotated = tmp_path / "rotated"
        assert run(["generate", str(data), "-g", "copula", "--seed", "3", "--out", str(rotated)]) == 0
    old, new = admin.set_key("alice", new_home / "keys" / "signing.pub.pem")
    assert old != new and old == json.loads((release / "manifest.json").read_text())["signatures"][0]["keyid"]
    with pytest.raises(InputError, match="already"):
        admin.set_key("alice", new_home / "keys" / "signing.pub.pem")
    with pytest.raises(InputError, match="only owners"):
        admin.set_key("bob", new_home / "keys" / "signing.pub.pem")
    refused = upload(client, tokens["alice"], zipped(second))
    assert refused.status_code == 422 and "upload refused" in refused.json()["detail"]
    assert upload(client, tokens["alice"], zipped(rotated)).status_code == 201
    release_id = json.loads((release / "manifest.json").read_text())["statement"]["predicate"]["release"]["id"]
    audited = client.post(f"/api/v1/releases/{release_id}/audits", json={"policy": "internal-sharing"},
                          headers=auth(tokens["audrey"]))  # fmt: skip
    assert audited.status_code == 201, audited.text
    document = client.get(
        f"/api/v1/releases/{release_id}/audits/{audited.json()['id']}", headers=auth(tokens["audrey"])
    )
    facts = {c["fact"]: c["measured"] for c in document.json()["statement"]["predicate"]["clauses"]}
    assert facts["release.verified"] is True
    trail = client.get("/api/v1/audit?limit=1000", headers=auth(tokens["audrey"])).json()
    change = [e for e in trail if e["action"] == "key-change"]
    assert len(change) == 1 and change[0]["target"] == "alice" and change[0]["detail"] == {"old": old, "new": new}


def test_the_key_history_migration_keeps_the_keys_owners_already_had(tmp_path: Path) -> None:
    from sqlalchemy import text

    from synthgov.service.admin import key_id_of
    from synthgov.service.database import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0004")
    pem = (Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem").read_text()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (name, role, public_key, created_at) VALUES "
                                "('alice', 'owner', :pem, '2026-01-01'), ('bob', 'consumer', NULL, '2026-01-01')"),
                           {"pem": pem})  # fmt: skip
    migrate(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT user_id, key_id, public_key FROM owner_keys")).all()
    assert [(r[1], r[2]) for r in rows] == [(key_id_of(pem), pem)]
    engine.dispose()


def test_every_response_carries_the_security_headers(service) -> None:
    _, client, tokens, _ = service
    for response in (client.get("/api/v1/me", headers=auth(tokens["bob"])), client.get("/api/v1/me")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


# -- the audit chain -------------------------------------------------------------------------------------------------
def _chain_after(app, sql: str, params: dict | None = None) -> list[str]:
    from synthgov.service import audit_log

    with app.state.engine.begin() as connection:
        connection.execute(text(sql), params or {})
    with app.state.sessions() as db:
        return audit_log.verify(db, app.state.keystore.public_key()).problems


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ('UPDATE audit_entries SET detail = \'{"role":"auditor"}\' WHERE seq = 2', "entry 2: its content"),
        ("DELETE FROM audit_entries WHERE seq = 4", "expected entry 4 here"),
        (
            "INSERT INTO audit_entries (seq, at, actor, action, target, detail, prev_hash, hash) "
            "SELECT 100, at, actor, action, target, detail, prev_hash, hash FROM audit_entries WHERE seq = 2",
            "entry 100",
        ),
        ("UPDATE audit_entries SET seq = seq + 1000 WHERE seq IN (5, 6)", "entry 1005"),
        ("UPDATE audit_entries SET actor = 'someone' WHERE seq = 7", "entry 7: its content"),
    ],
)
def test_the_chain_finds_edits_deletions_insertions_and_reorders_made_in_the_database(service, sql, found) -> None:
    app, _client, _tokens, _admin = service
    with app.state.sessions() as db:
        from synthgov.service import audit_log

        assert audit_log.verify(db, app.state.keystore.public_key()).valid
    problems = _chain_after(app, sql)
    assert any(found in p for p in problems), problems


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoints(service, tmp_path) -> None:
    """Someone with the database but not the key edits entry 2 and recomputes every hash after it: the chain
    links again, but the signed checkpoints no longer match."""
    from synthgov.service.audit_log import GENESIS, entry_hash

    app = service[0]
    with app.state.engine.begin() as connection:
        rows = connection.execute(text("SELECT seq, at, actor, action, target, detail FROM audit_entries ORDER BY seq"))
        prev = GENESIS
        for seq, at, actor, action, target, detail in list(rows):
            actor = "nobody" if seq == 2 else actor
            digest = entry_hash(seq, at, actor, action, target, detail, prev)
            connection.execute(
                text("UPDATE audit_entries SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"a": actor, "p": prev, "h": digest, "s": seq},
            )
            prev = digest
    problems = _chain_after(app, "SELECT 1")
    assert problems and all("rewritten" in p for p in problems)
    url = app.state.settings.database
    assert run(["audit-log", "verify", "--db", url, "--public-key", str(tmp_path / "service.pem")]) == 2  # no file
    (tmp_path / "service.pem").write_bytes(app.state.keystore.public_pem())
    assert run(["audit-log", "verify", "--db", url, "--public-key", str(tmp_path / "service.pem")]) == 1


# -- the command line: admin, serve, push and pull over real HTTP ---------------------------------------------------
def test_push_and_pull_through_a_running_server(
    tmp_path: Path, database: str, release: Path, monkeypatch, capsys
) -> None:
    import uvicorn

    home = tmp_path / "service-home"
    db = database
    issuer_key = Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem"
    monkeypatch.setenv("SYNTHGOV_HOME", str(home))
    assert run(["users", "add", "alice", "--role", "owner", "--db", db]) == 2  # an owner needs a key
    assert run(["users", "add", "alice", "--role", "king", "--db", db]) == 2
    assert run(["users", "add", "alice", "--role", "owner", "--public-key", str(issuer_key), "--db", db]) == 0
    assert run(["users", "add", "bob", "--role", "consumer", "--db", db]) == 0
    capsys.readouterr()
    assert run(["tokens", "create", "alice", "--db", db]) == 0
    alice = capsys.readouterr().out.strip()
    assert run(["tokens", "create", "bob", "--db", db]) == 0
    bob = capsys.readouterr().out.strip()
    app = create_app(Settings(home=home, database=db, store=tmp_path / "store"))
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
        url = f"http://127.0.0.1:{port}"
        assert run(["push", str(release), "--server", url, "--token", alice]) == 0
        release_id = json.loads((release / "manifest.json").read_text())["statement"]["predicate"]["release"]["id"]
        assert run(["pull", release_id, "--out", str(tmp_path / "mine"), "--server", url, "--token", bob]) == 2
        assert "403" in capsys.readouterr().err
        assert run(["share", release_id, "bob", "--server", url, "--token", bob]) == 2  # not bob's to share
        assert run(["share", release_id, "bob", "--server", url, "--token", alice]) == 0
        assert run(["pull", release_id, "--out", str(tmp_path / "mine"), "--server", url, "--token", bob]) == 0
        assert run(["detect", str(tmp_path / "mine" / "synthetic.parquet"), "--json"]) == 0  # the service's home
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["recipient"] == "bob"
        leak = str(tmp_path / "mine" / "synthetic.parquet")
        assert run(["detect", leak, "--server", url, "--token", alice, "--json"]) == 0  # from anywhere, over HTTP
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["recipient"] == "bob"
        assert run(["users", "set-key", "bob", "--public-key", str(issuer_key), "--db", db]) == 2  # no key to change
        assert "only owners" in capsys.readouterr().err
        assert run(["users", "set-key", "alice", "--public-key", str(issuer_key), "--db", db]) == 2
        assert "already" in capsys.readouterr().err
        assert run(["audit-log", "verify", "--db", db]) == 0
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_concurrent_actions_keep_one_unbroken_chain(service) -> None:
    """Eight writers at once (each token creation is an action with its audit entry, in its own transaction): every
    entry lands, in one chain with no gap or fork."""
    from concurrent.futures import ThreadPoolExecutor

    from synthgov.service import audit_log

    app, _, _, admin = service
    with app.state.sessions() as db:
        before = audit_log.verify(db, app.state.keystore.public_key()).entries
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda i: admin.create_token(["bob", "carol", "audrey"][i % 3]), range(40)))
    assert len(set(made)) == 40
    with app.state.sessions() as db:
        report = audit_log.verify(db, app.state.keystore.public_key())
    assert report.valid, report.problems
    assert report.entries == before + 40


# -- crash safety ---------------------------------------------------------------------------------------------------
SERVER_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import uvicorn
    from synthgov.service import audit_log, store
    from synthgov.service.app import create_app
    from synthgov.service.settings import Settings

    home, database, root, port, where = sys.argv[1:6]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "store":  # the first file stored, the release's row not written
        put = store.Store.put
        def killing_put(self, source):
            put(self, source)
            die()
        store.Store.put = killing_put
    elif where == "commit":  # the row and its audit entry written in the transaction, not committed
        append = audit_log.append
        def killing_append(session, actor, action, *args, **kwargs):
            entry = append(session, actor, action, *args, **kwargs)
            if action == "upload":
                session.flush()
                die()
            return entry
        audit_log.append = killing_append
    app = create_app(Settings(home=Path(home), database=database, store=Path(root)))
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["body", "store", "commit"])
def test_a_server_killed_mid_upload_leaves_nothing_half_visible(
    tmp_path: Path, database: str, release: Path, where: str
) -> None:
    """Killed (SIGKILL) while the body arrives, after a file is stored, or inside the release's transaction: on
    restart no release is visible, the chain verifies, what the crash left is garbage the registry never counts
    (and collects), and the same upload then succeeds."""
    import httpx

    from synthgov.service import audit_log

    settings = Settings(home=tmp_path / "home", database=database, store=tmp_path / "store")
    first = create_app(settings)
    admin = Admin(first.state.sessions, first.state.chain_options)
    admin.add_user("alice", "owner", Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem")
    token = admin.create_token("alice")
    first.state.engine.dispose()
    script, port = tmp_path / "server.py", free_port()
    script.write_text(SERVER_KILLER)
    args = [settings.home, database, settings.store, port, where]
    server = subprocess.Popen([sys.executable, str(script), *map(str, args)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/v1/me", headers=auth(token)).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    body = zipped(release)

    def slowly():
        yield body[: len(body) // 3]
        time.sleep(1.0)  # the server holds part of the upload on disk
        server.kill()
        server.wait(timeout=30)
        yield body[len(body) // 3 :]

    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{url}/api/v1/releases", content=slowly() if where == "body" else body,
                   headers={**ZIP, **auth(token)}, timeout=60)  # fmt: skip
    server.wait(timeout=30)
    assert server.returncode == -9, server.stderr.read().decode()[-2000:]
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/api/v1/releases", headers=auth(token)).json() == []
        with app.state.sessions() as db:
            report = audit_log.verify(db, app.state.keystore.public_key())
        assert report.valid, report.problems
        trail = [e.action for e in _entries(app)]
        assert "upload" not in trail
        left = Admin(app.state.sessions, app.state.chain_options).collect_garbage(app.state.store, older_than_s=-1)
        expected = {"body": (0, 1), "store": (1, 1), "commit": (len(list_files(release)), 1)}[where]
        assert (left["objects"], left["uploads"]) == expected
        assert upload(client, token, body).status_code == 201
        assert len(client.get("/api/v1/releases", headers=auth(token)).json()) == 1


def list_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _entries(app) -> list:
    from sqlalchemy import select

    from synthgov.service.models import AuditEntry

    with app.state.sessions() as db:
        return list(db.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


# -- the OpenAPI schema, fuzzed ---------------------------------------------------------------------------------------
_ZIP_SERIALIZER: set[str] = set()


def test_the_api_answers_generated_requests_without_5xx_or_schema_violations(service) -> None:
    """schemathesis draws requests from the OpenAPI schema (valid and invalid bodies, odd ids and parameters),
    sent as each role: never a 5xx, every status and body as the schema documents them."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    from synthgov.service.auth import FailedLogins

    app, _, tokens, _ = service
    app.state.failed = FailedLogins(10**6, 60.0)
    for media in ("application/zip", "application/vnd.apache.parquet"):  # bytes as they are (any bytes to the schema)
        if media not in _ZIP_SERIALIZER:
            schemathesis.serializer.alias(media, "application/octet-stream")
            _ZIP_SERIALIZER.add(media)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app  # cases are sent to the ASGI app itself
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8

    from schemathesis.checks import positive_data_acceptance

    def fuzz(operation, excluded: list) -> None:
        @settings(
            max_examples=30, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def answers(case) -> None:
            for name in ("alice", "bob", "audrey"):
                case.call_and_validate(headers=auth(tokens[name]), excluded_checks=excluded)

        answers()

    for operation in operations:
        # a schema-valid upload body is any bytes, but only a signed release (a readable table) is accepted, and a
        # job's parameters are checked by its generator: those refusals are tested above and in test_jobs.py
        upload_ = operation.method.upper() == "POST" and operation.path.endswith(
            ("/releases", "/sources", "/jobs", "/detect")
        )
        fuzz(operation, [positive_data_acceptance] if upload_ else [])


def test_an_upload_policy_refuses_a_release_that_fails_a_clause(tmp_path: Path, release: Path) -> None:
    """With ``--policy``, each upload is audited on arrival: the release without an evaluation fails
    internal-sharing's evaluation clauses and is refused naming them; a policy it meets lets it in with the
    certificate stored beside it."""
    issuer_key = Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem"
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "name: signed-and-marked\n"
        "description: verified and watermarked\n"
        "clauses:\n"
        "  - {id: verified, fact: release.verified, equals: true}\n"
        "  - {id: marked, fact: release.watermarked, equals: true}\n"
    )
    for chosen, code in (("internal-sharing", 422), (str(policy), 201)):
        folder = tmp_path / chosen[-8:]
        settings = Settings(home=folder / "home", database=f"sqlite:///{folder}.db", store=folder / "store",
                            upload_policy=chosen)  # fmt: skip
        app = create_app(settings)
        admin = Admin(app.state.sessions, app.state.chain_options)
        admin.add_user("alice", "owner", issuer_key)
        token = admin.create_token("alice")
        with TestClient(app) as client:
            response = upload(client, token, zipped(release))
            assert response.status_code == code, response.text
            if code == 422:
                assert "fails the registry's policy internal-sharing" in response.json()["detail"]
                assert client.get("/api/v1/releases", headers=auth(token)).json() == []
            else:
                [certificate] = client.get(
                    f"/api/v1/releases/{response.json()['id']}/audits", headers=auth(token)
                ).json()
                assert certificate["passed"] and certificate["auditor"] == "the registry's upload gate"
