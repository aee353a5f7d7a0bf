"""The collapse laboratory's HTML report: the verdicts, one figure per metric (a panel per generator, a line per
regime, the generation on the x axis) and the full table; self-contained (figures embedded as PNG)."""

from __future__ import annotations

import html
from typing import Any

from synthgov.collapse.metrics import HEADLINE

LABELS = {
    "column_shapes": "Column Shapes (SDMetrics)",
    "column_pair_trends": "Column Pair Trends (SDMetrics)",
    "tail_mass_ratio": "tail mass beyond real 1st/99th pct / real (mean of numeric columns)",
    "variance_ratio": "variance ratio synthetic / real (mean of numeric columns)",
    "categories_died": "real categories absent from the synthetic table (expected >= 10 times)",
    "rare_category_coverage": "rare categories (< 1%, expected >= 5 rows) present",
    "detection_auc": "detection AUC (real vs synthetic; 0.5 = indistinguishable)",
    "tstr_auc": "train-on-synthetic AUC on real test rows",
}
COLOURS = {"replace": "#c0392b", "accumulate": "#1f6fb2", "fresh": "#27ae60"}


def figure(result: Any, metric: str) -> str:
    from synthgov.evaluation.plots import _plt, _png

    plt = _plt()
    frame = result.frame()
    generators = list(dict.fromkeys(frame["generator"]))
    fig, axes = plt.subplots(1, len(generators), figsize=(4.2 * len(generators), 2.8), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], generators, strict=True):
        for regime, part in frame[frame["generator"] == name].groupby("regime", sort=False):
            ax.plot(part["generation"], part[metric], marker="o", ms=3, color=COLOURS.get(str(regime)), label=regime)
        if metric == "tstr_auc" and result.reference.get("trtr_auc") is not None:
            ax.axhline(result.reference["trtr_auc"], color="#555", ls=":", lw=1, label="trained on real")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("generation")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric, fontsize=9)
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(LABELS[metric], fontsize=10, y=1.06)
    return _png(fig)


def render_html(result: Any) -> str:
    cfg = result.config
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>synthgov collapse laboratory</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .45rem}"
        ".collapse{color:#c0392b;font-weight:bold}.stable{color:#1e8449;font-weight:bold}"
        ".drifting{color:#b9770e;font-weight:bold}img{max-width:100%}</style></head><body>",
        "<h1>Model collapse laboratory</h1>",
        f"<p>{cfg['generations']} generations of {', '.join(map(html.escape, cfg['generators']))} under "
        f"{', '.join(cfg['regimes'])}; {cfg['rows']:,} rows per generation; every metric against the original "
        f"real table; train-on-synthetic AUC of <code>{html.escape(str(cfg['target']))}</code> on "
        f"{cfg['test_rows']:,} real test rows (trained on real: {_num(result.reference.get('trtr_auc'))}); "
        f"seed {cfg['seed']}.</p>",
        "<h2>Verdicts</h2><table><tr><th>generator</th><th>regime</th><th>verdict</th><th>signals</th></tr>",
    ]
    for v in result.verdicts:
        parts.append(
            f"<tr><td>{html.escape(v['generator'])}</td><td>{v['regime']}</td>"
            f"<td class='{v['verdict']}'>{v['verdict']}</td><td>{html.escape('; '.join(v['signals']) or '-')}</td></tr>"
        )
    parts.append("</table><h2>Curves</h2>")
    for metric in HEADLINE:
        parts.append(f"<img alt='{metric}' src='data:image/png;base64,{figure(result, metric)}'>")
    frame = result.frame()
    parts.append("<h2>Every generation</h2><table><tr>" + "".join(f"<th>{c}</th>" for c in frame.columns) + "</tr>")
    for _, row in frame.iterrows():
        parts.append("<tr>" + "".join(f"<td>{_num(v)}</td>" for v in row) + "</tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))
