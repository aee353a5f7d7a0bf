"""report.html: one self-contained page (inline CSS, figures as embedded PNG) with every metric, its definition,
value and a plain-language verdict."""

from __future__ import annotations

from typing import Any

from synthgov.evaluation import plots

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
padding:0 1rem}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.92rem}
th,td{border-bottom:1px solid #ddd;padding:.45rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f8} td.value{font-variant-numeric:tabular-nums;white-space:nowrap}
.verdict{font-weight:600;padding:.1rem .5rem;border-radius:.6rem;font-size:.8rem}
.good{background:#dff3e3;color:#17622d}.fair{background:#fff2cc;color:#7a5b00}.poor{background:#fde0e0;color:#8b1a1a}
.info{background:#e6eef8;color:#1f4f7a} figure{margin:1.5rem 0} img.plot{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9rem} .notes li{color:#555} code{background:#f4f6f8;padding:0 .2rem}
"""


def render_html(result: Any) -> str:
    from synthgov.templates import render

    report = result.report
    data = result.figures_data
    tables = data["tables"]
    figures: list[tuple[str, str, str | None]] = [
        (
            "distributions",
            "Each column: real (blue) and synthetic (orange) distributions.",
            plots.distributions(tables),
        ),
        (
            "associations",
            "Association between every two columns (Cramér's V), real, synthetic and their difference.",
            plots.associations(tables),
        ),
        (
            "utility",
            "A model trained on synthetic rows against one trained on real rows, tested on real rows.",
            plots.utility_plot(report),
        ),
        (
            "distances",
            "Distance of synthetic rows to their closest training and holdout rows: the two should overlap.",
            plots.distance_plot(data.get("dcr") or {}),
        ),
        ("privacy", "Privacy attack risks with 95% confidence intervals.", plots.privacy_plot(report)),
    ]
    for column in report.get("bias") or {}:
        figures.append(
            (
                f"bias-{column}",
                f"Groups of '{column}': representation and outcome rates.",
                plots.bias_plot(report, column),
            )
        )
    return render(
        "report.html.j2",
        css=_CSS,
        inputs=report["inputs"],
        seconds=report["seconds"],
        metrics=result.metrics,
        flags=report.get("edge_cases", {}).get("collapse_flags") or [],
        figures=[{"id": name, "caption": caption, "png": png} for name, caption, png in figures if png],
        notes=report.get("notes", []),
        mitigation=report.get("mitigation"),
    )
