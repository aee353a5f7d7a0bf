"""The HTML templates of the reports, rendered by Jinja2 with autoescaping on: every user value (column names,
category labels, notes) is escaped wherever it lands, in text or in an attribute."""

from __future__ import annotations

import json
from functools import cache
from typing import Any


@cache
def environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("synthgov", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["script_json"] = script_json
    env.filters["num"] = number
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def script_json(value: Any) -> Any:
    """JSON for a ``<script type="application/json">`` block: still valid JSON (``JSON.parse`` reads it back), with
    ``<``, ``>`` and ``&`` as ``\\u`` escapes so no value can close the script element."""
    from markupsafe import Markup

    text = json.dumps(value, allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
