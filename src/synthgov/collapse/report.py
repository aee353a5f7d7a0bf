"""The collapse laboratory's HTML report: the verdicts, one figure per metric (a panel per generator, a line per
regime, the generation on the x axis) and the full table; self-contained (figures embedded as PNG)."""

from __future__ import annotations

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
    from synthgov.templates import render

    frame = result.frame()
    return render(
        "collapse.html.j2",
        cfg=result.config,
        trtr_auc=result.reference.get("trtr_auc"),
        verdicts=result.verdicts,
        curves=[(metric, figure(result, metric)) for metric in HEADLINE],
        columns=list(frame.columns),
        rows=[list(row) for _, row in frame.iterrows()],
    )
