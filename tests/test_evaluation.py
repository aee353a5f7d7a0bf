"""The evaluation suite: SDMetrics equality, sanity properties of every metric family, the report contract."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.errors import InputError
from synthgov.evaluation import evaluate
from synthgov.evaluation.attacks import risk, wilson
from synthgov.evaluation.fidelity import quality_scores
from synthgov.evaluation.prepare import load_tables

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from conftest import make_mixed
from quality import quality_report


@pytest.fixture(scope="module")
def adult_small(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.sample(6000, random_state=0).reset_index(drop=True)


def _sdmetrics_equal(real: pd.DataFrame, synthetic: pd.DataFrame) -> None:
    ours = quality_scores(load_tables(real, synthetic))
    schema = synthgov.infer_schema(real)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = quality_report(real, synthetic, schema)
    assert ours["column_shapes"] == pytest.approx(theirs["shapes"], abs=1e-6)
    assert ours["column_pair_trends"] == pytest.approx(theirs["trends"], abs=1e-6)
    assert ours["overall"] == pytest.approx(theirs["overall"], abs=1e-6)


def test_overall_equals_sdmetrics_on_adult(adult: pd.DataFrame) -> None:
    synthetic = synthgov.synthesizer("copula", seed=0).fit(adult).sample(len(adult), seed=1)
    _sdmetrics_equal(adult, synthetic)


def test_overall_equals_sdmetrics_on_german(german: pd.DataFrame) -> None:
    synthetic = synthgov.synthesizer("bayesnet", seed=0).fit(german).sample(len(german), seed=1)
    _sdmetrics_equal(german, synthetic)


def test_overall_equals_sdmetrics_with_datetimes_gaps_and_booleans() -> None:
    real = make_mixed(800, seed=1).drop(columns=["old", "record_id"])  # SDMetrics cannot read pre-1677 datetimes
    synthetic = synthgov.synthesizer("bayesnet", seed=0).fit(real).sample(700, seed=2)
    _sdmetrics_equal(real, synthetic)


def test_real_against_itself(adult_small: pd.DataFrame) -> None:
    result = evaluate(adult_small, adult_small.copy(), target="income", sensitive=["sex"], seed=0)
    assert result.get("fidelity.column_shapes") == pytest.approx(1.0)
    assert result.get("fidelity.column_pair_trends") == pytest.approx(1.0)
    assert abs(result.get("fidelity.detection_auc") - 0.5) < 0.05
    assert result.get("edge_cases.rare_category_coverage") == 1.0
    assert result.get("bias.sex.representation_gap") == pytest.approx(0.0)


def test_copies_of_the_training_data_are_flagged(adult: pd.DataFrame, adult_test: pd.DataFrame) -> None:
    train = adult.sample(5000, random_state=1).reset_index(drop=True)
    result = evaluate(train, train.copy(), adult_test.sample(5000, random_state=2), seed=0)
    assert result.get("privacy.exact_copies") == len(train)
    assert result.get("privacy.dcr_share") > 0.9
    assert result.get("privacy.mia_auc") > 0.9
    assert result.get("privacy.singling_out.risk") > 0.3
    verdicts = {m["key"]: m["verdict"] for m in result.metrics}
    assert verdicts["privacy.dcr_share"] == verdicts["privacy.mia_auc"] == "poor"


def test_a_faithful_generator_is_not_flagged(adult: pd.DataFrame, adult_test: pd.DataFrame) -> None:
    train = adult.sample(8000, random_state=3).reset_index(drop=True)
    synthetic = synthgov.synthesizer("bayesnet", seed=0).fit(train).sample(len(train), seed=1)
    result = evaluate(train, synthetic, adult_test.sample(8000, random_state=4), seed=0)
    assert 0.4 < result.get("privacy.dcr_share") < 0.56
    assert result.get("privacy.mia_auc") < 0.6
    assert result.get("privacy.exact_copy_rate") <= result.get("privacy.holdout_copy_rate") + 0.002


def test_shuffled_columns_keep_shapes_and_lose_trends(adult_small: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    shuffled = pd.DataFrame({c: rng.permutation(adult_small[c].to_numpy()) for c in adult_small.columns})
    result = evaluate(adult_small, shuffled, seed=0)
    assert result.get("fidelity.column_shapes") == pytest.approx(1.0)
    assert result.get("fidelity.column_pair_trends") < 0.85  # real: 1.0; copula 0.876, bayesnet 0.98
    assert result.get("fidelity.detection_auc") > 0.75


def test_removing_a_group_shows_in_representation_and_bias(adult: pd.DataFrame, adult_test: pd.DataFrame) -> None:
    train = adult.sample(8000, random_state=5).reset_index(drop=True)
    synthetic = synthgov.synthesizer("bayesnet", seed=0).fit(train).sample(len(train), seed=1)
    no_women = synthetic[synthetic["sex"] != "Female"]
    result = evaluate(
        train, no_women, adult_test.sample(6000, random_state=6), target="income", sensitive=["sex"], seed=0
    )
    entry = result.get("bias")["sex"]
    assert entry["representation_gap"] == pytest.approx((train["sex"] == "Female").mean(), abs=1e-9)
    assert entry["representation"]["Female"]["synthetic"] == 0.0
    assert entry["label_rate"]["Female"]["synthetic"] is None
    assert result.get("fidelity.category_coverage") < 1.0
    verdicts = {m["key"]: m["verdict"] for m in result.metrics}
    assert verdicts["bias.sex.representation_gap"] == "poor"


def test_data_level_parity_gap_matches_fairlearn_and_the_known_adult_value(adult: pd.DataFrame) -> None:
    from fairlearn.metrics import demographic_parity_difference

    result = evaluate(adult, adult, target="income", sensitive=["sex"], quick=False, seed=0)
    y = (adult["income"] == ">50K").to_numpy()
    expected = demographic_parity_difference(y, y, sensitive_features=adult["sex"])
    assert result.get("bias")["sex"]["label_rate_gap_real"] == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.1963, abs=1e-4)  # shared/research: P(>50K|Male) - P(>50K|Female)


def test_wilson_interval_and_residual_risk_by_hand() -> None:
    rate = wilson(500, 250)
    z = 1.959963984540054
    assert rate.value == pytest.approx((250 + z * z / 2) / (500 + z * z))
    assert rate.error == pytest.approx(z / (500 + z * z) * np.sqrt(250 * 250 / 500 + z * z / 4))
    out = risk(500, 250, 100, 5)
    a, c = wilson(500, 250), wilson(500, 100)
    assert out["risk"] == pytest.approx((a.value - c.value) / (1 - c.value))
    assert out["ci"][0] < out["risk"] < out["ci"][1]
    assert risk(500, 10, 100, 5)["risk"] == 0.0  # control more attackable: bounded at 0


def test_messy_tables_evaluate_and_the_contract_holds(tmp_path: Path) -> None:
    real, holdout = make_mixed(900, seed=3), make_mixed(600, seed=4)
    real["high_card"] = [f"code{i % 400}" for i in range(len(real))]
    holdout["high_card"] = [f"code{i % 450}" for i in range(len(holdout))]
    synthetic = synthgov.synthesizer("copula", seed=0).fit(real).sample(900, seed=1)
    result = evaluate(real, synthetic, holdout, target="flag", sensitive=["group", "x"], out=tmp_path, seed=0)
    report = json.loads((tmp_path / "report.json").read_text())
    for key in [
        "fidelity.column_shapes",
        "fidelity.column_pair_trends",
        "fidelity.overall",
        "fidelity.detection_auc",
        "utility.tstr_auc",
        "utility.trtr_auc",
        "privacy.dcr_share",
        "privacy.exact_copies",
        "privacy.mia_auc",
        "bias.group.representation_gap",
        "bias.x.representation_gap",
        "edge_cases.rare_category_coverage",
    ]:
        value = result.get(key)
        assert isinstance(value, (int, float)) and np.isfinite(value), key
        node = report
        for part in key.split("."):
            node = node[part]
        assert node == pytest.approx(value)
    assert (tmp_path / "report.html").read_text().count('<img class="plot"') >= 6


def test_quick_mode_and_regression_target(adult_small: pd.DataFrame) -> None:
    result = evaluate(adult_small, adult_small.sample(frac=1, random_state=0), target="age", quick=True)
    assert result.get("utility.task") == "regression" and result.get("utility.tstr_r2") > 0.2
    assert result.get("privacy") is None and result.get("fidelity.detection_auc") is None
    assert any("quick mode" in n for n in result.report["notes"])


def test_bad_input_is_a_clear_error(adult_small: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="unknown column 'nope'"):
        evaluate(adult_small, adult_small, target="nope")
    with pytest.raises(InputError, match="lacks income"):
        evaluate(adult_small, adult_small.drop(columns="income"))


def test_collapse_flags_catch_shrunk_tails_spread_and_categories(adult_small: pd.DataFrame) -> None:
    """A synthetic table with halved spread and a lost category is flagged FAIL; the real table is not."""
    shrunk = adult_small.copy()
    shrunk["age"] = (shrunk["age"] - shrunk["age"].mean()) * 0.5 + shrunk["age"].mean()
    shrunk.loc[shrunk["race"] == "Black", "race"] = "White"
    flags = evaluate(adult_small, shrunk, quick=True).get("edge_cases.collapse_flags")
    found = {(f["column"], f["indicator"], f["level"]) for f in flags}
    assert ("age", "std_ratio", "FAIL") in found and ("age", "tail_mass_ratio", "FAIL") in found
    assert ("race", "categories_lost", "FAIL") in found
    assert evaluate(adult_small, adult_small, quick=True).get("edge_cases.collapse_flags") == []


def test_grouped_folds_keep_twins_together_and_spread_each_label_evenly() -> None:
    from synthgov.evaluation.detection import grouped_stratified_folds

    rng = np.random.default_rng(4)
    y = np.r_[np.zeros(1000), np.ones(700)]
    groups = np.arange(1700)
    groups[1000:1100] = groups[:100]  # 100 synthetic copies of real rows: mixed groups
    groups[1100:1160] = 5000 + np.arange(60) // 6  # ten groups of six synthetic duplicates
    folds = grouped_stratified_folds(y, groups, 3, np.random.default_rng(0))
    assert set(np.unique(folds)) == {0, 1, 2}
    for g in np.unique(groups):
        assert len(np.unique(folds[groups == g])) == 1
    for label in (0, 1):
        counts = np.bincount(folds[y == label], minlength=3)
        assert counts.max() - counts.min() <= 1, counts
    again = grouped_stratified_folds(y, groups, 3, np.random.default_rng(0))
    other = grouped_stratified_folds(y, groups, 3, rng)
    assert (again == folds).all() and (other != folds).any()  # seeded


def test_detection_auc_agrees_with_scikit_learns_grouped_folds(adult_small: pd.DataFrame) -> None:
    """The same classifier two-sample test with scikit-learn's StratifiedGroupKFold (seeds differ, so folds do):
    the AUCs agree to within fold noise, on a faithful and on a poor synthetic table."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    from synthgov.evaluation.detection import detection_auc
    from synthgov.evaluation.prepare import Encoding

    rng = np.random.default_rng(0)
    shuffled = pd.DataFrame({c: rng.permutation(adult_small[c].to_numpy()) for c in adult_small.columns})
    faithful = synthgov.synthesizer("bayesnet", seed=0).fit(adult_small).sample(len(adult_small), seed=1)
    for synthetic in (faithful, shuffled):
        tables = load_tables(adult_small, synthetic)
        encoding = Encoding.fit(tables)
        ours = detection_auc(tables, encoding, np.random.default_rng(1))["detection_auc"]
        x = pd.concat([encoding.model_frame(t) for t in (tables.real, tables.synthetic)], ignore_index=True)
        y = np.r_[np.zeros(len(tables.real)), np.ones(len(tables.synthetic))]
        both = pd.concat([tables.real[tables.columns], tables.synthetic[tables.columns]], ignore_index=True)
        groups = pd.util.hash_pandas_object(both.astype(str), index=False).to_numpy()
        scores = np.zeros(len(y))
        for train, test in StratifiedGroupKFold(3, shuffle=True, random_state=7).split(x, y, groups):
            model = HistGradientBoostingClassifier(random_state=7, categorical_features="from_dtype")
            scores[test] = model.fit(x.iloc[train], y[train]).predict_proba(x.iloc[test])[:, 1]
        assert abs(ours - roc_auc_score(y, scores)) < 0.02, (ours, roc_auc_score(y, scores))


def test_association_matrix_equals_cramers_v_of_each_crosstab() -> None:
    """The report's association figure: Cramér's V of every two columns (numbers in deciles of the real data,
    gaps as a level of their own) equals scipy's on pandas' crosstab of the same codes, computed pair by pair;
    a constant column has no association."""
    from scipy.stats.contingency import association

    from synthgov.evaluation.plots import _codes, association_matrix

    real = make_mixed(700, seed=5)
    real["constant"] = "same"
    synthetic = make_mixed(500, seed=6)
    synthetic["constant"] = "same"
    tables = load_tables(real, synthetic)
    names = tables.columns
    assert len(names) >= 5
    for frame in (tables.real, tables.synthetic):
        ours = association_matrix(tables, frame, names)
        codes = {}
        for n in names:
            _, edges = _codes(tables.real[n], tables.is_continuous(n), None)
            codes[n] = _codes(frame[n], tables.is_continuous(n), edges)[0]
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                table = pd.crosstab(codes[a], codes[b]).to_numpy()
                expected = 1.0 if i == j else association(table, method="cramer") if min(table.shape) > 1 else 0.0
                assert ours[i, j] == pytest.approx(expected, abs=1e-12), (a, b)
        assert (ours[names.index("constant")][np.arange(len(names)) != names.index("constant")] == 0).all()
