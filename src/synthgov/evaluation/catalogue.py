"""Every headline metric of the report: its name, definition, and a plain-language verdict for its value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str  # dotted path in report.json
    name: str
    definition: str
    judge: Callable[[float], tuple[str, str]]  # value -> (verdict, sentence)


def _higher(good: float, fair: float, what: str) -> Callable[[float], tuple[str, str]]:
    def judge(v: float) -> tuple[str, str]:
        basis = f" (good at >= {good:g}, fair at >= {fair:g})"
        if v >= good:
            return "good", f"{what}: well preserved{basis}"
        if v >= fair:
            return "fair", f"{what}: partly preserved{basis}"
        return "poor", f"{what}: not preserved{basis}"

    return judge


def _near_half(good: float, fair: float, what: str) -> Callable[[float], tuple[str, str]]:
    def judge(v: float) -> tuple[str, str]:
        basis = f" (good at <= {good:g}, fair at <= {fair:g}; 0.5 is indistinguishable)"
        if v <= good:
            return "good", f"{what}: close to indistinguishable from real data{basis}"
        if v <= fair:
            return "fair", f"{what}: distinguishable with effort{basis}"
        return "poor", f"{what}: easily told apart{basis}"

    return judge


def _risk(low: float, high: float, what: str) -> Callable[[float], tuple[str, str]]:
    def judge(v: float) -> tuple[str, str]:
        basis = f" (low at <= {low:g}, moderate at <= {high:g})"
        if v <= low:
            return "good", f"low {what}{basis}"
        if v <= high:
            return "fair", f"moderate {what}: review before release{basis}"
        return "poor", f"high {what}: do not release as is{basis}"

    return judge


def _gap(good: float, fair: float, what: str) -> Callable[[float], tuple[str, str]]:
    def judge(v: float) -> tuple[str, str]:
        basis = f" (small at |gap| <= {good:g}, noticeable at <= {fair:g})"
        if abs(v) <= good:
            return "good", f"{what}: small{basis}"
        if abs(v) <= fair:
            return "fair", f"{what}: noticeable{basis}"
        return "poor", f"{what}: large{basis}"

    return judge


METRICS: list[Metric] = [
    Metric(
        "fidelity.column_shapes",
        "Column Shapes (SDMetrics)",
        "Mean over columns of 1 - KS statistic (numbers, datetimes) or 1 - total variation distance (categories).",
        _higher(0.95, 0.85, "each column's distribution"),
    ),
    Metric(
        "fidelity.column_pair_trends",
        "Column Pair Trends (SDMetrics)",
        "Mean over strongly associated real column pairs of 1 - |difference in Pearson r| / 2 (numbers) or "
        "1 - total variation distance of the joint distribution (other pairs, numbers in 10 bins).",
        _higher(0.90, 0.75, "the relationships between columns"),
    ),
    Metric(
        "fidelity.overall",
        "Quality score (SDMetrics)",
        "Mean of Column Shapes and Column Pair Trends.",
        _higher(0.90, 0.80, "overall statistical fidelity"),
    ),
    Metric(
        "fidelity.detection_auc",
        "Detection AUC",
        "Cross-validated ROC AUC of gradient boosting trained to tell real rows from synthetic ones.",
        _near_half(0.6, 0.8, "rows"),
    ),
    Metric(
        "fidelity.alpha_precision",
        "alpha-precision (Alaa et al. 2022)",
        "1 - 2 x mean gap between the share of synthetic rows inside real alpha-balls and alpha.",
        _higher(0.9, 0.7, "realism of synthetic rows"),
    ),
    Metric(
        "fidelity.beta_recall",
        "beta-recall (Alaa et al. 2022)",
        "1 - 2 x mean gap between the share of real rows covered by synthetic beta-balls and beta (equal-size "
        "samples of real and synthetic rows, so a smaller synthetic table is not scored as poor coverage). With "
        "this estimator real rows score 0.50-0.60 against other real rows of Adult (1,000-10,000 rows).",
        _higher(0.45, 0.3, "coverage of the real data's variety"),
    ),
    Metric(
        "fidelity.missing_rate_gap",
        "Largest missing-rate gap",
        "Largest absolute difference between a column's missing share in real and synthetic data.",
        _gap(0.01, 0.05, "the difference in missing values"),
    ),
    Metric(
        "fidelity.category_coverage",
        "Category coverage",
        "Mean over categorical columns of the share of real categories present in the synthetic data.",
        _higher(0.99, 0.9, "the set of categories"),
    ),
    Metric(
        "edge_cases.rare_category_coverage",
        "Rare category coverage",
        "Share of real categories rarer than 1% (expected at least 5 times) that appear in the synthetic data.",
        _higher(0.95, 0.8, "the rare categories"),
    ),
    Metric(
        "edge_cases.percentile_agreement",
        "1st/99th percentile agreement",
        "Mean over numeric columns of 1 - (|q01 gap| + |q99 gap|) / (2 x real q99 - q01 range).",
        _higher(0.95, 0.85, "the tails"),
    ),
    Metric(
        "edge_cases.support_coverage",
        "Support coverage",
        "Mean share of the real data's 20 quantile bins (numbers) and categories covered by synthetic rows.",
        _higher(0.98, 0.9, "the range of values"),
    ),
    Metric(
        "utility.tstr_auc",
        "Train-synthetic, test-real ROC AUC",
        "ROC AUC on real test rows of gradient boosting trained on the synthetic rows.",
        lambda v: ("info", "judged against the train-real score by the utility gap (one verdict, not two)"),
    ),
    Metric(
        "utility.trtr_auc",
        "Train-real, test-real ROC AUC",
        "The same model trained on the real rows (the ceiling).",
        lambda v: ("info", "the ceiling a model trained on synthetic rows can reach"),
    ),
    Metric(
        "utility.tstr_r2",
        "Train-synthetic, test-real R2",
        "R2 on real test rows of a model trained on synthetic rows.",
        lambda v: ("info", "judged against the train-real score by the utility gap (one verdict, not two)"),
    ),
    Metric(
        "utility.gap",
        "Utility gap",
        "Train-real score minus train-synthetic score, on the same real test rows.",
        _gap(0.02, 0.05, "the loss of predictive value"),
    ),
    Metric(
        "utility.feature_importance_agreement",
        "Feature importance agreement",
        "Spearman rank correlation of permutation importances of the two models.",
        _higher(0.8, 0.5, "which features matter"),
    ),
    Metric(
        "privacy.exact_copy_rate",
        "Exact copies of training rows",
        "Share of synthetic rows identical to a training row (compare: holdout_copy_rate).",
        _risk(0.001, 0.01, "copying"),
    ),
    Metric(
        "privacy.dcr_share",
        "DCR share",
        "Share of synthetic rows closer to a training row than to any holdout row, on equal-size samples of "
        "training and holdout rows (the peers' definition; 0.5 ideal).",
        _risk(0.53, 0.6, "closeness to training rows"),
    ),
    Metric(
        "privacy.close_to_training_share",
        "Rows unusually close to the training data",
        "Share of synthetic rows whose distance to the nearest of all training rows is below the 5th percentile "
        "of real holdout rows' distances (about 0.05 ideal; 1 for copies).",
        _risk(0.07, 0.15, "closeness to training rows"),
    ),
    Metric(
        "privacy.mia_auc",
        "Membership inference AUC",
        "ROC AUC of the stronger of a distance and a density attack telling training rows from holdout rows, "
        "each searching every synthetic row.",
        _risk(0.55, 0.65, "membership disclosure"),
    ),
    Metric(
        "privacy.singling_out.risk",
        "Singling-out risk (Giomi et al. 2022)",
        "Excess success of predicates from synthetic rows in isolating one training row, over control rows.",
        _risk(0.05, 0.15, "singling-out risk"),
    ),
    Metric(
        "privacy.linkability.risk",
        "Linkability risk (Giomi et al. 2022)",
        "Excess success in linking two halves of a training row through the same nearest synthetic row.",
        _risk(0.05, 0.15, "linkability risk"),
    ),
    Metric(
        "privacy.inference.risk",
        "Attribute inference risk (Giomi et al. 2022)",
        "Excess success in guessing a secret column from the nearest synthetic row, over control rows.",
        _risk(0.05, 0.15, "inference risk"),
    ),
]


def lookup(report: dict[str, Any], key: str) -> Any:
    value: Any = report
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def summarise(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline metrics that were computed, each with its definition and verdict."""
    rows = []
    for metric in METRICS:
        value = lookup(report, metric.key)
        if value is None or (isinstance(value, float) and value != value):
            continue
        verdict, sentence = metric.judge(float(value))
        rows.append(
            {
                "key": metric.key,
                "name": metric.name,
                "definition": metric.definition,
                "value": float(value),
                "verdict": verdict,
                "explanation": sentence,
            }
        )
    for column, entry in (report.get("bias") or {}).items():
        gap = entry["representation_gap"]
        verdict, sentence = _gap(0.02, 0.05, f"the change in {column} group shares")(gap)
        rows.append(
            {
                "key": f"bias.{column}.representation_gap",
                "name": f"Representation gap ({column})",
                "definition": "Largest absolute difference between a group's share in real and synthetic data.",
                "value": gap,
                "verdict": verdict,
                "explanation": sentence,
            }
        )
        if entry.get("bias_amplification") is not None:
            amp = entry["bias_amplification"]
            verdict, sentence = _gap(0.03, 0.05, f"the change of the outcome gap between {column} groups")(amp)
            rows.append(
                {
                    "key": f"bias.{column}.bias_amplification",
                    "name": f"Bias amplification ({column})",
                    "definition": "Synthetic minus real gap between the highest and lowest positive-label rate "
                    "of groups.",
                    "value": amp,
                    "verdict": verdict,
                    "explanation": sentence,
                }
            )
    return rows
