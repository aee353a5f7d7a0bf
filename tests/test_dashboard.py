"""The registry's dashboard: sign-in, sessions and CSRF, every page behind sign-in, and the whole story in a real
browser (Playwright driving Debian's chromium): an owner uploads and shares, a consumer downloads a copy that
names them, an auditor sees every step. Screenshots of each page are written (``$SYNTHGOV_SCREENSHOTS`` or the
test's temporary folder)."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from synthgov.cli import run
from synthgov.service.admin import Admin
from synthgov.service.app import create_app
from synthgov.service.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = [
    "/",
    "/jobs",
    "/lineage",
    "/audit",
    "/releases/x",
    "/releases/x/audits/y",
    "/releases/x/report",
    "/releases/x/download",
]


@pytest.fixture(scope="module")
def evaluated_release(tmp_path_factory: pytest.TempPathFactory, adult: pd.DataFrame, adult_test: pd.DataFrame) -> Path:
    """A signed release with its evaluation report, by the session's issuer."""
    folder = tmp_path_factory.mktemp("issuer") / "release"
    data, holdout = folder.parent / "train.csv", folder.parent / "holdout.csv"
    adult.head(2500).to_csv(data, index=False)
    adult_test.head(1000).to_csv(holdout, index=False)
    home = tmp_path_factory.getbasetemp() / "synthgov-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHGOV_HOME", str(home))
        code = run(["generate", str(data), "-g", "copula", "--rows", "2500", "--seed", "1", "--out", str(folder),
                    "--evaluate", "--holdout", str(holdout), "--target", "income"])  # fmt: skip
    assert code == 0
    return folder


@pytest.fixture
def registry(tmp_path: Path):
    settings = Settings(home=tmp_path / "service-home", database=f"sqlite:///{tmp_path / 'r.db'}",
                        store=tmp_path / "store", failed_logins=50)  # fmt: skip
    app = create_app(settings)
    admin = Admin(app.state.sessions, app.state.chain_options)
    admin.add_user("olivia", "owner", Path(os.environ["SYNTHGOV_HOME"]) / "keys" / "signing.pub.pem")
    admin.add_user("carl", "consumer")
    admin.add_user("aude", "auditor")
    tokens = {name: admin.create_token(name) for name in ("olivia", "carl", "aude")}
    return app, tokens


def sign_in(client: TestClient, token: str):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"token": token, "csrf": csrf}, follow_redirects=False)


def test_every_page_needs_a_session_and_every_form_its_token(registry) -> None:
    app, tokens = registry
    with TestClient(app) as client:
        for path in PAGES:
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/login", path
        for path in [
            "/upload",
            "/logout",
            "/releases/x/share",
            "/releases/x/audit",
            "/sources",
            "/jobs",
            "/jobs/x/retry",
        ]:
            assert client.post(path, follow_redirects=False).status_code in (303, 422), path
        # a stale or forged login form is refused; a wrong token is refused and audited
        assert client.post("/login", data={"token": tokens["carl"], "csrf": "forged"}).status_code == 403
        assert sign_in(client, "sg_wrong").status_code == 401
        signed = sign_in(client, tokens["carl"])
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = client.get("/")
        assert page.status_code == 200 and "Signed in as" in page.text and "carl" in page.text
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        # a form without the session's token does nothing
        assert client.post("/logout", data={"csrf": "nope"}).status_code == 403
        assert client.get("/audit").status_code == 403  # consumers do not read the trail
        assert client.get("/").status_code == 200  # still signed in
    with app.state.sessions() as db:
        from sqlalchemy import select

        from synthgov.service.models import AuditEntry, WebSession

        actions = [e.action for e in db.scalars(select(AuditEntry))]
        stored = [s.digest for s in db.scalars(select(WebSession))]
    assert "failed-login" in actions and "login" in actions
    assert all(len(d) == 64 for d in stored)  # only digests of the cookies


def test_the_job_form_checks_its_fields_before_anything_is_queued(registry, adult: pd.DataFrame) -> None:
    """The dashboard's job form: a schema that is not YAML, or that does not describe the source, and a DP
    generator's epsilon on a generator without one are refused with the reason; nothing is queued."""
    app, tokens = registry
    with TestClient(app) as client:
        assert sign_in(client, tokens["olivia"]).status_code == 303
        page = client.get("/jobs")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        table = {"table": ("adult.csv", adult.head(300).to_csv(index=False), "text/csv")}
        upload = client.post("/sources", data={"csrf": csrf}, files=table)
        source = re.search(r'<option value="([0-9a-f]{64})"', upload.text).group(1)
        form = {"csrf": csrf, "source": source, "generator": "mst", "epsilon": "1", "evaluate": "yes"}
        bad_yaml = client.post("/jobs", data={**form, "schema_text": "columns: [unclosed"})
        assert bad_yaml.status_code == 422 and "not valid YAML" in bad_yaml.text
        other = client.post("/jobs", data={**form, "schema_text": "version: 1\ncolumns:\n  age: {kind: numeric}\n"})
        assert other.status_code == 422 and "schema" in other.text
        no_dp = client.post("/jobs", data={**form, "generator": "copula"})
        assert no_dp.status_code == 422 and "epsilon" in no_dp.text
    with app.state.sessions() as db:
        from sqlalchemy import select

        from synthgov.service.models import Job

        assert list(db.scalars(select(Job))) == []


def test_the_html_escapes_what_a_release_says(registry, evaluated_release: Path, tmp_path: Path) -> None:
    """Names in a release reach the page escaped (a generator name or id can never inject markup)."""
    from synthgov.templates import render

    class Who:
        csrf = "c"

        class user:
            name = "<script>alert(1)</script>"
            role = "owner"

    html = render("dashboard_releases.html.j2", who=Who, releases=[], owners={})
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    hostile = "<img src=x onerror=alert(1)>"
    node = {"id": hostile, "source": hostile, "parents": [hostile], "depth": 1, "generator": hostile, "epsilon": 1.0}
    from synthgov.service.lineage_graph import BOX_HEIGHT, BOX_WIDTH, layout

    lineage = render(
        "dashboard_lineage.html.j2",
        who=Who,
        nodes=[node],
        budgets=[(hostile, 1, 0.98765, 1e-5)],
        graph=layout([node]),
        box_width=BOX_WIDTH,
        box_height=BOX_HEIGHT,
    )
    assert "<img" not in lineage and "&lt;img src=x onerror=alert(1)&gt;" in lineage
    assert "<svg" in lineage and 'href="/releases/&lt;img' in lineage  # the graph's link and title, escaped too
    assert "0.988" in lineage  # the composed epsilon, rounded


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_whole_story_in_a_real_browser(
    registry, evaluated_release: Path, adult: pd.DataFrame, tmp_path: Path
) -> None:
    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    app, tokens = registry
    shots = Path(os.environ.get("SYNTHGOV_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    archive = tmp_path / "release.zip"
    archive.write_bytes(zipped(evaluated_release))
    source_csv = tmp_path / "adult-sample.csv"
    adult.head(1000).to_csv(source_csv, index=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])

            def session(name: str):
                context = browser.new_context(accept_downloads=True)
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
                page.goto(f"{url}/")
                expect(page).to_have_url(f"{url}/login")
                page.get_by_label("API token").fill(tokens[name])
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_text(f"Signed in as {name}")).to_be_visible()
                return context, page

            # the owner uploads, sees the report, shares with the consumer
            context, page = session("olivia")
            page.screenshot(path=str(shots / "1-owner-releases.png"), full_page=True)
            page.get_by_label("Release folder as a zip").set_input_files(str(archive))
            page.get_by_role("button", name="Upload and verify").click()
            expect(page.get_by_role("heading", name="Datasheet")).to_be_visible()
            release_id = page.url.rsplit("/", 1)[-1]
            page.screenshot(path=str(shots / "2-owner-release.png"), full_page=True)
            page.get_by_role("link", name="Open the evaluation report").click()
            expect(page.locator("body")).to_contain_text("income")
            page.screenshot(path=str(shots / "3-evaluation-report.png"))
            page.go_back()
            page.get_by_label("Share with").select_option("carl")
            page.get_by_role("button", name="Share").click()
            expect(page.get_by_text("Shared with: carl")).to_be_visible()
            page.goto(f"{url}/lineage")
            expect(page.get_by_role("link", name=release_id)).to_be_visible()  # the table (the graph is aria-hidden)
            expect(page.locator(f"figure.lineage svg a[href='/releases/{release_id}']")).to_have_count(1)
            expect(page.locator("figure.lineage svg .node.source")).to_have_count(1)
            page.screenshot(path=str(shots / "4-lineage.png"), full_page=True)
            # the owner registers a source, starts a job and watches it until its release is in the registry
            page.get_by_role("link", name="Jobs").click()
            page.get_by_label("A real table (.csv or .parquet)").set_input_files(str(source_csv))
            page.get_by_role("button", name="Register").click()
            page.get_by_label("Generator", exact=True).select_option("copula")
            page.get_by_label("Rows (empty: as many as the source)").fill("800")
            page.get_by_label("Target column for the utility figures (optional)").fill("income")
            page.get_by_label("Audit against a policy (the service signs the certificate)").select_option(
                "internal-sharing"
            )
            page.get_by_role("button", name="Start the job").click()
            page.screenshot(path=str(shots / "4b-job-started.png"), full_page=True)
            expect(page.get_by_role("cell", name="done", exact=True).first).to_be_visible(
                timeout=180_000
            )  # it refreshes
            page.screenshot(path=str(shots / "4c-job-done.png"), full_page=True)
            page.get_by_role("row").filter(has_text="done").get_by_role("link").first.click()  # its release
            expect(page.get_by_text("internal-sharing").first).to_be_visible()  # its audit certificate is listed
            page.screenshot(path=str(shots / "4d-job-release.png"), full_page=True)
            context.close()
            # the consumer downloads their copy
            context, page = session("carl")
            page.get_by_role("link", name=release_id).click()
            with page.expect_download() as download:
                page.get_by_role("link", name="Download your copy").click()
            saved = tmp_path / "carl.zip"
            download.value.save_as(saved)
            page.screenshot(path=str(shots / "5-consumer-release.png"), full_page=True)
            context.close()
            # the auditor sees every step, and the chain verifies
            context, page = session("aude")
            page.get_by_role("link", name=release_id).click()
            page.get_by_label("Audit against the policy").select_option("internal-sharing")
            page.get_by_role("button", name="Audit and sign").click()
            expect(page.get_by_role("cell", name="internal-sharing")).to_be_visible()
            expect(page.get_by_text("clauses pass")).to_be_visible()
            page.screenshot(path=str(shots / "5b-audit-certificate.png"), full_page=True)
            with page.expect_download() as certificate:
                page.get_by_role("link", name="certificate JSON").click()
            certificate.value.save_as(tmp_path / "certificate.json")
            page.get_by_role("link", name="Audit trail").click()
            expect(page.get_by_role("status")).to_contain_text("The chain verifies")
            for step in ["upload", "share", "download", "login", "job-submit", "job-done", "audit"]:
                expect(page.locator("td", has_text=re.compile(f"^{step}$")).first).to_be_visible()
            page.screenshot(path=str(shots / "6-audit-trail.png"), full_page=True)
            # keyboard: the skip link is the first stop and moves to the content
            page.keyboard.press("Tab")
            expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
            context.close()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert errors == []
    assert sorted(p.name for p in shots.glob("*.png")) == [
        "1-owner-releases.png", "2-owner-release.png", "3-evaluation-report.png", "4-lineage.png",
        "4b-job-started.png", "4c-job-done.png", "4d-job-release.png", "5-consumer-release.png",
        "5b-audit-certificate.png", "6-audit-trail.png",
    ]  # fmt: skip
    # the certificate the auditor downloaded verifies with the service's key
    (tmp_path / "service.pem").write_bytes(app.state.keystore.public_pem())
    assert run(["verify", str(tmp_path / "certificate.json"), "--public-key", str(tmp_path / "service.pem")]) == 0
    # the copy carl downloaded names carl
    with zipfile.ZipFile(saved) as z:
        z.extractall(tmp_path / "carl")
    marked = pd.read_parquet(next((tmp_path / "carl").rglob("synthetic.parquet")))
    from synthgov.release.keys import watermark_key_id
    from synthgov.watermark import detect, registry

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHGOV_HOME", str(app.state.settings.home))
        secret = app.state.keystore.watermark_secret()
        key_id = watermark_key_id(secret)
        found = detect(marked, registry.plans_for(key_id), secret, key_id)
    assert found.p_value < 1e-6 and found.recipient == "carl"
