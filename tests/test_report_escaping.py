"""report.html and the collapse report are rendered with autoescaping (issue 24): a hostile column name or
category cannot inject markup, even in an attribute, and the embedded JSON stays JSON."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd

from synthgov.evaluation import evaluate

HOSTILE = "x' onmouseover='alert(1)' a=\"<script>alert(2)</script>&"


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script: list[str] = []
        self._in_json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_json = tag == "script" and dict(attrs).get("type") == "application/json"

    def handle_endtag(self, tag: str) -> None:
        self._in_json = False

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.script.append(data)


def test_hostile_names_are_escaped_everywhere(tmp_path) -> None:
    rng = np.random.default_rng(0)
    real = pd.DataFrame({HOSTILE: rng.choice(["a", "</script><b>", HOSTILE], 400), "y": rng.choice(["p", "q"], 400)})
    result = evaluate(real, real.sample(frac=1, random_state=1), target="y", sensitive=[HOSTILE], out=tmp_path)
    page = (tmp_path / "report.html").read_text()
    parser = Collector()
    parser.feed(page)
    # no injected element or attribute: only the template's own tags, and no event handler anywhere
    assert {tag for tag, _ in parser.tags} <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "thead", "tbody", "tr", "th",
        "td", "br", "code", "span", "ul", "li", "b", "figure", "img", "figcaption", "script",
    }  # fmt: skip
    assert not any(name.startswith("on") for _, attrs in parser.tags for name in attrs)
    assert [t for t, a in parser.tags if t == "script"] == ["script"]  # the JSON block alone
    figure_ids = [a["id"] for t, a in parser.tags if t == "figure"]
    assert f"fig-bias-{HOSTILE}" in figure_ids  # the attribute value is the name, whole, not a way out
    # the embedded JSON is JSON again once the page is parsed, with the metrics as computed
    assert json.loads("".join(parser.script))["summary"] == json.loads(json.dumps(result.metrics))
    assert not re.search(r"<script>alert", page)
