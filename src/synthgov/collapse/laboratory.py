"""``run_collapse``: K generations of a generator trained on its own output, under each regime, each
generation scored against the original real table (see :mod:`.metrics`), with a verdict per regime.

Generation 1 trains on the real table in every regime with the same seeds, so every regime starts from the
same synthetic table; the regimes differ from generation 2 on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.collapse.metrics import HEADLINE, Reference, generation_metrics
from synthgov.collapse.regimes import check_regime, training_table
from synthgov.errors import InputError
from synthgov.table.io import TableLike, read_table
from synthgov.table.schema import Schema

DRIFT_POINTS = 0.02  # "within 2 points of generation 1", for the metrics on a 0-1 scale
# ratio metrics (tail mass, variance) move by more from sampling alone: a faithful sampler (bootstrap of Adult,
# 16,000 rows) has sd 0.034 / 0.013 between draws; their band is the metric card's WARN band for the variance
RATIO_METRICS = ("tail_mass_ratio", "variance_ratio")
RATIO_TOLERANCE = 0.10
TREND = 0.8  # |Spearman rho| of a metric with the generation index that counts as a monotone trend
SHRINKS = ("column_shapes", "column_pair_trends", "tail_mass_ratio", "variance_ratio", "rare_category_coverage")


@dataclass
class CollapseResult:
    """One row per (generator, regime, generation); ``verdicts`` per (generator, regime); ``config`` and the
    real reference (``trtr_auc``: the same model trained on the real rows)."""

    rows: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    config: dict[str, Any]
    reference: dict[str, Any]
    files: list[Path] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        flat = [{k: v for k, v in row.items() if k not in ("by_column", "collapse_flags")} for row in self.rows]
        return pd.DataFrame(flat)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "reference": self.reference, "verdicts": self.verdicts, "generations": self.rows}

    def write(self, folder: str | Path) -> list[Path]:
        from synthgov.collapse.report import render_html

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "collapse.json").write_text(json.dumps(self.to_dict(), indent=1, default=_plain) + "\n")
        self.frame().to_csv(folder / "collapse.csv", index=False)
        (folder / "collapse.html").write_text(render_html(self), encoding="utf-8")
        self.files = [folder / "collapse.json", folder / "collapse.csv", folder / "collapse.html"]
        return self.files


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return str(value)


def run_collapse(
    source: TableLike,
    *,
    generators: str | list[str] = "copula",
    regimes: str | list[str] = ("replace", "accumulate"),
    generations: int = 10,
    rows: int | None = None,
    test: TableLike | None = None,
    target: str | None = None,
    fresh_share: float = 0.1,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    out: str | Path | None = None,
    allow_synthetic: bool = False,
    schema: Any = None,
    rules: Any = None,
    sensitive: list[str] | tuple[str, ...] = (),
) -> CollapseResult:
    """Run ``generations`` generations of each generator under each regime on ``source`` (the real table).

    ``rows`` caps the real table (a seeded sample) and is the size of every synthetic table. ``test``: real rows
    never trained on, for train-on-synthetic AUC of ``target`` (default: the last column); without it, 20% of
    the real rows are held out. ``params`` go to every generator (for example ``{"epochs": 50}``). The input is
    checked by the synthetic-data guard first (``allow_synthetic`` to study a table that is itself synthetic).
    ``schema`` (a schema file or :class:`~synthgov.table.schema.Schema`) overrides inference, for the real table,
    the test rows and every generation's fit. Every generation is also compared with the real table by the drift
    monitor (:mod:`synthgov.governance.drift`: ``rules`` satisfaction, columns, pairs, and with ``sensitive`` the
    group shares and ``target`` rates): the count of drifted values and their names are in each generation's row.
    """
    from synthgov.generators import registry
    from synthgov.governance.guard import enforce

    names = [generators] if isinstance(generators, str) else list(generators)
    regime_list = [regimes] if isinstance(regimes, str) else list(regimes)
    for regime in regime_list:
        check_regime(regime)
    for name in names:
        registry.get(name)  # unknown names fail before any work
        if name == "rules":
            raise InputError("the 'rules' generator learns nothing from data, so it cannot collapse; pick another")
    if not isinstance(generations, int) or generations < 1:
        raise InputError(f"generations must be a positive integer, got {generations}")
    if rows is not None and rows < 50:
        raise InputError(f"rows must be at least 50, got {rows}")
    real = read_table(source)
    enforce(real, source if isinstance(source, (str, Path)) else None, allow_synthetic=allow_synthetic)
    rng = np.random.default_rng(seed)
    target = target if target is not None else str(real.columns[-1])
    if target not in real.columns:
        raise InputError(f"unknown target column '{target}' (columns: {', '.join(map(str, real.columns))})")
    if test is None:
        order = rng.permutation(len(real))
        cut = len(real) // 5
        test_df, real = real.iloc[order[:cut]].reset_index(drop=True), real.iloc[order[cut:]].reset_index(drop=True)
    else:
        test_df = read_table(test)
    if rows is not None and rows < len(real):
        real = real.iloc[np.sort(rng.choice(len(real), size=rows, replace=False))].reset_index(drop=True)
    n_rows = len(real)
    if schema is not None and not isinstance(schema, Schema):
        schema = Schema.load(schema)
    from synthgov.constraints.value_rules import load_rules
    from synthgov.governance.drift import compare

    ruleset = load_rules(rules)
    if ruleset is not None:
        ruleset.check_columns(list(real.columns))
    for column in sensitive:
        if column not in real.columns:
            raise InputError(f"unknown sensitive column '{column}' (columns: {', '.join(map(str, real.columns))})")
    with progress.step("collapse: reference metrics of the real table"):
        ref = Reference.build(real, test_df, target, seed, schema=schema)
    records: list[dict[str, Any]] = []
    verdicts = []
    for name in names:
        for regime in regime_list:
            runs = []

            def fit_sample(train: pd.DataFrame, generation: int, name: str = name) -> pd.DataFrame:
                model = registry.synthesizer(name, seed=seed + 1000 * generation, **(params or {}))
                return model.fit(train, schema).sample(n_rows, seed=seed + 1000 * generation + 1)

            with progress.step(f"collapse: {name}, {regime}", total=generations) as advance:
                loop = generations_of(regime, real, fit_sample, generations, seed=seed, fresh_share=fresh_share)
                for generation, train, share, synthetic, seconds in loop:
                    card = generation_metrics(ref, synthetic, seed + generation)
                    drift = compare(real, synthetic, rules=ruleset, sensitive=sensitive, target=target)
                    card["drifted_values"] = len(drift.drifted)
                    if ruleset is not None:
                        rates = [f.candidate for f in drift.findings if f.kind == "rule"]
                        card["lowest_rule_satisfaction"] = round(float(min(rates)), 6)
                    card["drifted"] = "; ".join(f"{f.kind} {f.subject}" for f in drift.drifted)
                    row = {
                        "generator": name,
                        "regime": regime,
                        "generation": generation,
                        "training_rows": len(train),
                        "synthetic_share_of_training": round(share, 4),
                        "fit_sample_seconds": round(seconds, 3),
                        **card,
                    }
                    runs.append(row)
                    advance(info=f"gen {generation}: shapes {card['column_shapes']:.3f}")
            records += runs
            verdicts.append(verdict(runs))
    config = {
        "generators": names,
        "regimes": regime_list,
        "generations": generations,
        "rows": n_rows,
        "test_rows": len(test_df),
        "target": target,
        "schema": "given" if schema is not None else "inferred",
        "fresh_share": fresh_share,
        "seed": seed,
        "params": params or {},
    }
    result = CollapseResult(records, verdicts, config, {"trtr_auc": ref.trtr_auc, "real_rows": n_rows})
    if out is not None:
        result.write(out)
    return result


def generations_of(
    regime: str,
    real: pd.DataFrame,
    fit_sample: Callable[[pd.DataFrame, int], pd.DataFrame],
    generations: int,
    *,
    seed: int = 0,
    fresh_share: float = 0.1,
) -> Iterator[tuple[int, pd.DataFrame, float, pd.DataFrame, float]]:
    """The recursion itself, for any ``fit_sample(train, generation) -> synthetic``: yields (generation, its
    training table, that table's synthetic share, the synthetic table, seconds to fit and sample)."""
    check_regime(regime)
    history: list[pd.DataFrame] = []
    for generation in range(1, generations + 1):
        train, share = training_table(regime, real, history, np.random.default_rng([seed, generation, 7]), fresh_share)
        started = time.perf_counter()
        synthetic = fit_sample(train, generation)
        seconds = time.perf_counter() - started
        if regime == "accumulate":
            history.append(synthetic)
        else:
            history[:] = [synthetic]  # only the last one is ever used: keep memory flat
        yield generation, train, share, synthetic, seconds


def verdict(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Drift of every headline metric from generation 1 and its trend over the generations: ``collapse`` when a
    metric that shrinks under collapse fell by more than 2 points along a monotone trend (or detection rose so,
    or categories died out), ``stable`` when every 0-1 metric stayed within 2 points of generation 1 (rare
    coverage: within one category), the tail and variance ratios within 0.10, and no category died;
    ``drifting`` otherwise."""
    first = runs[0]
    drift, trend = {}, {}
    generation = np.arange(len(runs))
    for metric in HEADLINE:
        values = np.array([np.nan if r[metric] is None else float(r[metric]) for r in runs])
        if np.isnan(values).any():
            continue
        drift[metric] = float(values[-1] - values[0])
        drift[f"{metric}_max_abs"] = float(np.max(np.abs(values - values[0])))
        trend[metric] = _spearman(generation, values) if len(runs) > 2 else 0.0
    # rare coverage moves in steps of one category: one category more or less is within the metric card's WARN
    tolerance = {m: RATIO_TOLERANCE if m in RATIO_METRICS else DRIFT_POINTS for m in HEADLINE}
    tolerance["rare_category_coverage"] = max(DRIFT_POINTS, 1.5 / max(int(first.get("rare_categories") or 1), 1))
    signals = []
    for metric in SHRINKS:
        points = tolerance[metric]
        if metric in drift and drift[metric] < -points and trend[metric] <= -TREND:
            signals.append(f"{metric} fell {drift[metric]:+.3f} (trend {trend[metric]:+.2f})")
    if drift.get("detection_auc", 0) > DRIFT_POINTS and trend.get("detection_auc", 0) >= TREND:
        signals.append(f"detection AUC rose {drift['detection_auc']:+.3f}")
    died = runs[-1]["categories_died"] - first["categories_died"]
    if died > 0:
        signals.append(f"{died} more categories died out")
    within = all(
        drift[f"{m}_max_abs"] <= tolerance[m] for m in HEADLINE if m != "categories_died" and f"{m}_max_abs" in drift
    )
    label = "collapse" if signals else ("stable" if within and died <= 0 else "drifting")
    return {
        "generator": first["generator"],
        "regime": first["regime"],
        "verdict": label,
        "signals": signals,
        "drift_from_generation_1": drift,
        "spearman_with_generation": trend,
    }


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(y) == 0:
        return 0.0
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)
