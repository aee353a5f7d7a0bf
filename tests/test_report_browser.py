"""report.html in a real browser (headless Chromium via Playwright): no errors, and every plot is shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import synthgov
from synthgov.evaluation import evaluate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_opens_without_errors_and_shows_every_plot(
    tmp_path: Path, adult: pd.DataFrame, adult_test: pd.DataFrame
) -> None:
    from playwright.sync_api import sync_playwright

    train = adult.sample(4000, random_state=0).reset_index(drop=True)
    synthetic = synthgov.synthesizer("copula", seed=0).fit(train).sample(4000, seed=1)
    evaluate(
        train,
        synthetic,
        adult_test.sample(3000, random_state=1),
        target="income",
        sensitive=["sex", "race"],
        out=tmp_path,
        seed=0,
    )
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto((tmp_path / "report.html").as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img.plot", "els => els.map(e => ({id: e.parentElement.id, ok: e.complete && e.naturalWidth > 100}))"
        )
        rows = page.eval_on_selector_all("tbody tr", "els => els.length")
        # what a reader sees: the distributions figure as rendered, kept beside the report for a person to look at
        figure = page.locator("#fig-distributions img")
        figure.scroll_into_view_if_needed()
        shot = figure.screenshot(path=str(tmp_path / "distributions.png"))
        shown = figure.evaluate("e => ({w: e.getBoundingClientRect().width, natural: e.naturalWidth})")
        title = page.title()
        browser.close()
    assert errors == []
    ids = {img["id"] for img in images}
    assert {
        "fig-distributions",
        "fig-associations",
        "fig-utility",
        "fig-distances",
        "fig-privacy",
        "fig-bias-sex",
        "fig-bias-race",
    } <= ids
    assert all(img["ok"] for img in images), images
    assert rows >= 20 and "evaluation" in title
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and shown["w"] > 600  # drawn at a readable width, not a thumbnail
