"""The report's figures (matplotlib, rendered to PNG and embedded, so the HTML needs nothing else)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd

from synthgov.evaluation.prepare import Tables, as_numbers
from synthgov.table.plain import as_text

REAL, SYNTH = "#1f6fb2", "#e07b24"
MAX_COLUMNS = 30


MISSING_LABEL = "(missing)"


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)  # every figure is laid out tight already
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


LABEL_CHARACTERS = 28  # category labels longer than this are shortened in the middle, never cut at the end
TOP_CATEGORIES = 8
SPIKE_SHARE = 0.5  # a histogram bin holding more than half the mass (capital gain's zeros) -> log density axis


def distributions(tables: Tables) -> str:
    return _png(distribution_figure(tables))


def distribution_figure(tables: Tables) -> Any:
    """One panel per column: real as a filled histogram or bars, synthetic as an outline or hatched bars (they
    never blend into one colour), full category labels on a horizontal bar chart, a log axis for spiky columns,
    and a legend on every panel."""
    plt = _plt()
    names = tables.columns[:MAX_COLUMNS]
    cols = 4
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        if tables.is_continuous(name):
            _numeric_panel(ax, tables, name)
        else:
            _category_panel(ax, tables, name)
        if not ax.get_title():
            ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="best", framealpha=0.7)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _numeric_panel(ax: Any, tables: Tables, name: str) -> None:
    r, s = (as_numbers(t[name]).to_numpy() for t in (tables.real, tables.synthetic))
    r, s = r[np.isfinite(r)], s[np.isfinite(s)]  # gaps and infinities have no place on a histogram
    lo, hi = np.quantile(r, [0.005, 0.995]) if r.size else (0, 1)
    if r.size and np.mean(r == np.median(r)) > SPIKE_SHARE:  # a spike (zeros): keep the tail in view
        lo, hi = float(r.min()), float(np.quantile(r, 0.999))
    with np.errstate(over="ignore", invalid="ignore"):
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
    if not np.isfinite(np.diff(bins)).all():  # a range wider than a float holds (1e308 and -1e308)
        ax.text(0.5, 0.5, "range too wide to draw", ha="center", va="center", transform=ax.transAxes)
        return
    real_density, _ = np.histogram(np.clip(r, lo, hi), bins=bins, density=True)
    synthetic_density, _ = np.histogram(np.clip(s, lo, hi), bins=bins, density=True)
    # one artist per histogram (ax.hist draws a patch per bar: 12 histograms 0.4 s -> 0.03 s)
    ax.stairs(real_density, bins, fill=True, alpha=0.45, color=REAL, label="real")
    ax.stairs(synthetic_density, bins, fill=False, linewidth=1.6, color=SYNTH, label="synthetic")
    total = real_density.sum()
    if total > 0 and real_density.max() / total > SPIKE_SHARE:
        ax.set_yscale("log")
        ax.set_ylabel("density (log)", fontsize=7)


def _category_panel(ax: Any, tables: Tables, name: str) -> None:
    r = as_text(tables.real[name], MISSING_LABEL).value_counts(normalize=True)
    s = as_text(tables.synthetic[name], MISSING_LABEL).value_counts(normalize=True)
    top = r.index[:TOP_CATEGORIES]
    y = np.arange(len(top))[::-1]  # the most common category on top
    ax.barh(y + 0.2, r.reindex(top).to_numpy(), 0.4, color=REAL, label="real")
    ax.barh(
        y - 0.2, s.reindex(top, fill_value=0).to_numpy(), 0.4, color="white", edgecolor=SYNTH, hatch="///",
        label="synthetic",
    )  # fmt: skip
    ax.set_yticks(y, [short_label(str(t)) for t in top], fontsize=7)
    ax.set_xlabel("share of rows", fontsize=7)
    if len(r) > TOP_CATEGORIES:
        ax.set_title(f"{name} (top {TOP_CATEGORIES} of {len(r)})", fontsize=9)


def short_label(text: str, limit: int = LABEL_CHARACTERS) -> str:
    """``text`` whole when it fits, else its start and end around an ellipsis (the ends tell labels apart)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[-(limit - 1 - head) :]


def _codes(series: pd.Series, continuous: bool, edges: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    if continuous:
        x = as_numbers(series).to_numpy()
        if edges is None:
            edges = np.unique(np.nanquantile(x, np.linspace(0, 1, 11))) if np.isfinite(x).any() else np.array([0.0])
        return np.where(np.isnan(x), 0, np.searchsorted(edges, x, side="right") + 1), edges
    return pd.factorize(as_text(series))[0] + 1, None


def association_matrix(tables: Tables, frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Cramér's V between every two columns (numbers in deciles of the real data)."""
    from scipy.stats.contingency import association

    codes, levels = [], []
    for n in names:
        _, edges = _codes(tables.real[n], tables.is_continuous(n), None)
        _, dense = np.unique(_codes(frame[n], tables.is_continuous(n), edges)[0], return_inverse=True)
        codes.append(dense.ravel())  # 0 .. levels - 1, every level present
        levels.append(int(dense.max()) + 1 if dense.size else 0)
    k = len(names)
    out = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            if min(levels[i], levels[j]) < 2:
                v = 0.0
            else:
                pairs = np.bincount(codes[i] * levels[j] + codes[j], minlength=levels[i] * levels[j])
                v = float(association(pairs.reshape(levels[i], levels[j]), method="cramer"))
            out[i, j] = out[j, i] = v
    return out


def associations(tables: Tables) -> str:
    plt = _plt()
    names = tables.columns[:MAX_COLUMNS]
    real = association_matrix(tables, tables.real, names)
    synth = association_matrix(tables, tables.synthetic, names)
    fig, axes = plt.subplots(1, 3, figsize=(18, 6))
    for ax, matrix, title, cmap, limits in (
        (axes[0], real, "real: association (Cramér's V)", "Blues", (0, 1)),
        (axes[1], synth, "synthetic: association", "Blues", (0, 1)),
        (axes[2], synth - real, "synthetic - real", "RdBu_r", (-0.5, 0.5)),
    ):
        image = ax.imshow(matrix, cmap=cmap, vmin=limits[0], vmax=limits[1])
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return _png(fig)


def utility_plot(report: dict[str, Any]) -> str | None:
    util = report.get("utility")
    if not util:
        return None
    plt = _plt()
    metric = "auc" if util["task"] == "classification" else "r2"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    axes[0].bar(
        ["train real", "train synthetic"], [util[f"trtr_{metric}"], util[f"tstr_{metric}"]], color=[REAL, SYNTH]
    )
    axes[0].set_ylabel(f"{metric.upper()} on real test rows")
    axes[0].set_ylim(0, 1)
    axes[0].set_title(f"utility for '{util['target']}'")
    imp = util.get("feature_importance") or {}
    if imp:
        names = list(imp)
        x = np.arange(len(names))
        axes[1].bar(x - 0.2, [imp[n]["trtr"] for n in names], 0.4, color=REAL, label="trained on real")
        axes[1].bar(x + 0.2, [imp[n]["tstr"] for n in names], 0.4, color=SYNTH, label="trained on synthetic")
        axes[1].set_xticks(x, names, rotation=60, ha="right", fontsize=7)
        axes[1].legend(fontsize=8)
    axes[1].set_title("permutation importance")
    fig.tight_layout()
    return _png(fig)


def distance_plot(dcr: dict[str, np.ndarray]) -> str | None:
    if not dcr:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    values = np.concatenate(list(dcr.values()))
    bins = np.linspace(0, max(np.quantile(values, 0.99), 1e-6), 40)
    ax.hist(dcr["dcr_train"], bins=bins, alpha=0.55, color=REAL, label="synthetic -> nearest training row")
    if "dcr_holdout" in dcr:
        ax.hist(dcr["dcr_holdout"], bins=bins, alpha=0.55, color=SYNTH, label="synthetic -> nearest holdout row")
    ax.set_xlabel("distance to closest record (Gower-style)")
    ax.legend(fontsize=8)
    ax.set_title("distance to closest record")
    fig.tight_layout()
    return _png(fig)


def privacy_plot(report: dict[str, Any]) -> str | None:
    priv = report.get("privacy") or {}
    risks = {k: priv[k] for k in ("singling_out", "linkability", "inference") if isinstance(priv.get(k), dict)}
    if not risks:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = list(risks)
    values = [risks[n]["risk"] for n in names]
    lows = [risks[n]["risk"] - risks[n]["ci"][0] for n in names]
    highs = [risks[n]["ci"][1] - risks[n]["risk"] for n in names]
    ax.bar(names, values, yerr=[lows, highs], color=SYNTH, capsize=6)
    ax.set_ylim(0, max(0.2, max(v + h for v, h in zip(values, highs, strict=True)) * 1.2))
    ax.set_ylabel("risk (95% CI)")
    ax.set_title("privacy attacks (Giomi et al. 2022)")
    fig.tight_layout()
    return _png(fig)


def bias_plot(report: dict[str, Any], column: str) -> str:
    plt = _plt()
    entry = report["bias"][column]
    rep = entry["representation"]
    groups = list(rep)[:12]
    panels = 2 if entry.get("label_rate") else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 3.6), squeeze=False)
    x = np.arange(len(groups))
    axes[0, 0].bar(x - 0.2, [rep[g]["real"] for g in groups], 0.4, color=REAL, label="real")
    axes[0, 0].bar(x + 0.2, [rep[g]["synthetic"] for g in groups], 0.4, color=SYNTH, label="synthetic")
    axes[0, 0].set_xticks(x, [g[:14] for g in groups], rotation=45, ha="right", fontsize=7)
    axes[0, 0].set_title(f"share of each {column} group")
    axes[0, 0].legend(fontsize=8)
    if panels == 2:
        rates = entry["label_rate"]
        g2 = list(rates)[:12]
        x2 = np.arange(len(g2))
        axes[0, 1].bar(x2 - 0.2, [rates[g]["real"] for g in g2], 0.4, color=REAL)
        axes[0, 1].bar(x2 + 0.2, [rates[g]["synthetic"] or 0 for g in g2], 0.4, color=SYNTH)
        axes[0, 1].set_xticks(x2, [g[:14] for g in g2], rotation=45, ha="right", fontsize=7)
        axes[0, 1].set_title("positive-label rate per group")
    fig.tight_layout()
    return _png(fig)
