"""Bias mitigation at generation time (issue 21, part 2): ``--fair`` with the rebalance, parity and counterfactual
strategies; the manifest's before/after figures; bad options are one clear line.

Expected values are computed here with pandas from the tables as read back (shares, label rates, which columns
a pair differs in), never by the code under test."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from synthgov.cli import run as cli
from synthgov.errors import InputError
from synthgov.pipeline import generate


@pytest.fixture(scope="module")
def small_adult(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.sample(5000, random_state=1).reset_index(drop=True)


def rate(frame: pd.DataFrame, group: pd.Series, label: str = ">50K") -> pd.Series:
    return (frame["income"] == label).groupby(group).mean()


# -- rebalance -----------------------------------------------------------------------------------------------------
def test_rebalance_gives_equal_group_shares_to_the_row(small_adult: pd.DataFrame) -> None:
    data = generate(small_adult, generator="copula", rows=3001, seed=2, fair=("race",), watermark=False).data
    counts = data["race"].value_counts()
    groups = small_adult["race"].nunique()
    assert len(counts) == groups
    assert counts.max() - counts.min() <= 1  # 3001 rows over the groups: whole rows, within one row of equal
    assert counts.sum() == 3001


def test_rebalance_with_given_shares_and_a_target_keeps_each_groups_label_rate(small_adult: pd.DataFrame) -> None:
    release = generate(
        small_adult, generator="bayesnet", rows=4000, seed=3, fair=("sex",), target="income",
        shares="Female=0.7", watermark=False,
    )  # fmt: skip
    data = release.data
    assert (data["sex"] == "Female").sum() == 2800
    real = rate(small_adult, small_adult["sex"])
    released = rate(data, data["sex"])
    for group in ("Female", "Male"):  # each group's label rate as in the training rows, to the whole row
        n = int((data["sex"] == group).sum())
        assert abs(released[group] - real[group]) <= 1 / n + 1e-12


def test_rebalance_of_a_numeric_split(german: pd.DataFrame) -> None:
    data = generate(german, generator="copula", rows=1000, seed=4, fair=("age_in_years>=25",), watermark=False).data
    young = int((data["age_in_years"] < 25).sum())
    assert young == 500, young
    assert (german["age_in_years"] < 25).mean() < 0.25  # the request moved it: 15% of the training rows are young


# -- parity --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("generator", ["copula", "bayesnet"])
def test_parity_equalises_label_rates_and_keeps_group_shares(small_adult: pd.DataFrame, generator: str) -> None:
    n = 4000
    data = generate(
        small_adult, generator=generator, rows=n, seed=5, fair=("sex",), target="income", strategy="parity",
        watermark=False,
    ).data  # fmt: skip
    real_gap = rate(small_adult, small_adult["sex"])
    assert real_gap["Male"] - real_gap["Female"] > 0.15  # the training rows have the gap
    rates = rate(data, data["sex"])
    sizes = data["sex"].value_counts()
    overall = (small_adult["income"] == ">50K").mean()
    for group in ("Female", "Male"):
        assert abs(rates[group] - overall) <= 1 / sizes[group] + 1e-12
        assert abs(sizes[group] / n - (small_adult["sex"] == group).mean()) <= 1 / n + 1e-12


def test_parity_keeps_each_groups_other_distributions(small_adult: pd.DataFrame) -> None:
    """Within a cell (group, label) the rows follow the model's P(other columns | group, label): compared with the
    same model sampled under that cell's conditions directly."""
    import synthgov

    model = synthgov.synthesizer("copula", seed=6).fit(small_adult)
    release = generate(small_adult, generator="copula", seed=6, rows=20000, fair=("sex",), target="income",
                       watermark=False)  # fmt: skip
    cell = release.data[(release.data["sex"] == "Female") & (release.data["income"] == ">50K")]
    direct = model.sample(len(cell), seed=99, conditions={"sex": "Female", "income": ">50K"})
    for column in ("relationship", "education", "marital-status"):
        a = cell[column].value_counts(normalize=True)
        b = direct[column].value_counts(normalize=True)
        tv = 0.5 * a.sub(b, fill_value=0).abs().sum()
        assert tv < 0.08, (column, tv)


def test_parity_on_a_split_group(german: pd.DataFrame) -> None:
    data = generate(german, generator="bayesnet", rows=2000, seed=7, fair=("age_in_years>=25",),
                    target="credit_risk", strategy="parity", watermark=False).data  # fmt: skip
    young = data["age_in_years"] < 25
    rates = (data["credit_risk"] == 2).groupby(young).mean()
    assert abs(rates[True] - rates[False]) <= 1 / young.sum() + 1 / (~young).sum()
    assert abs(young.mean() - (german["age_in_years"] < 25).mean()) <= 1 / 2000 + 1e-12


# -- counterfactual ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("generator", ["copula", "bayesnet"])
def test_counterfactual_pairs_differ_only_in_the_sensitive_column_and_its_descendants(
    small_adult: pd.DataFrame, generator: str
) -> None:
    descendants = ["relationship", "income", "hours-per-week"]
    data = generate(
        small_adult, generator=generator, rows=1201, seed=8, fair=("sex",), target="income",
        strategy="counterfactual", descendants=descendants, watermark=False,
    ).data  # fmt: skip
    first, second = data.iloc[0:1200:2].reset_index(drop=True), data.iloc[1:1200:2].reset_index(drop=True)
    assert (first["sex"] != second["sex"]).all()
    for column in data.columns:
        same = (first[column] == second[column]) | (first[column].isna() & second[column].isna())
        if column in descendants:
            continue
        if column != "sex":
            assert same.all(), column
    # the descendants are drawn again for the other sex: husbands become wives, at least somewhere
    assert (first["relationship"] != second["relationship"]).any()
    assert len(data) == 1201


# -- the release states it -----------------------------------------------------------------------------------------
def test_manifest_states_before_and_after_figures_measured(tmp_path, small_adult: pd.DataFrame) -> None:
    out = tmp_path / "fair"
    generate(small_adult.head(2000), generator="copula", rows=1500, seed=9, out=out, fair=("sex",), target="income",
             strategy="parity", evaluate=True)  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    section = manifest["statement"]["predicate"]["fairness"]
    data = pd.read_parquet(out / "synthetic.parquet")
    before, after = section["before"]["sex"], section["after"]["sex"]
    real = rate(small_adult.head(2000), small_adult["sex"].head(2000))
    assert before["groups"]["Female"]["positive_rate"] == pytest.approx(real["Female"], abs=1e-6)
    assert before["demographic_parity_difference"] == pytest.approx(real["Male"] - real["Female"], abs=1e-6)
    released = rate(data, data["sex"])  # the rows as written: the watermark left sex and income alone
    assert after["groups"]["Female"]["positive_rate"] == pytest.approx(released["Female"], abs=1e-6)
    assert after["demographic_parity_difference"] == pytest.approx(abs(released["Male"] - released["Female"]), abs=1e-6)
    assert after["demographic_parity_difference"] < 0.01
    assert section["drawn_by"].startswith("selection")  # parity needs about 2 rows drawn per row on Adult
    assert sum(section["rows_per_cell"].values()) == len(data) == 1500
    carriers = manifest["statement"]["predicate"]["watermark"].get("carriers", {})
    assert "sex" not in carriers and "income" not in carriers
    assert "Bias mitigation `parity`" in (out / "datasheet.md").read_text()
    html = (out / "report" / "report.html").read_text()
    assert "Bias mitigation" in html and "parity" in html
    assert cli(["verify", str(out)]) == 0


def test_same_seed_same_fair_release(small_adult: pd.DataFrame) -> None:
    options = dict(
        generator="copula",
        rows=800,
        seed=10,
        fair=("race", "sex"),
        target="income",
        strategy="rebalance",
        watermark=False,
    )
    a, b = generate(small_adult, **options).data, generate(small_adult, **options).data
    pd.testing.assert_frame_equal(a, b)
    counts = a.groupby(["race", "sex"]).size()  # several attributes: the product of equal shares
    assert counts.max() - counts.min() <= 1


# -- bad input -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"fair": ("salary",)}, "--fair column 'salary' is not in the table"),
        ({"fair": ("age",)}, "is numeric: split it"),
        ({"fair": ("sex>=3",)}, "a split needs a numeric column"),
        ({"fair": ("sex",), "strategy": "parity"}, "name the label with --target"),
        ({"fair": ("sex",), "strategy": "magic"}, "unknown --strategy 'magic'"),
        ({"fair": ("sex",), "shares": "Other=0.5"}, "--shares group 'Other' is not a group of sex"),
        ({"fair": ("sex",), "shares": "Female=0.7,Male=0.5"}, "add up to 1.200 > 1"),
        ({"fair": ("age>=40",), "strategy": "counterfactual"}, "takes one categorical --fair column"),
        ({"fair": ("sex",), "descendants": ("income",)}, "is an option of --strategy counterfactual"),
        ({"fair": ("sex",), "target": "sex"}, "is also a --fair column"),
        ({"fair": ("sex",), "target": "age"}, "compares the rates of a categorical label"),
        ({"strategy": "parity"}, "name the sensitive column(s) with --fair"),
    ],
)
def test_bad_fair_options_are_one_line(small_adult: pd.DataFrame, options: dict, words: str) -> None:
    with pytest.raises(InputError) as caught:
        generate(small_adult, generator="copula", rows=100, **options)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_fair_unknown_column_is_one_line_and_exit_2(tmp_path, capsys, small_adult: pd.DataFrame) -> None:
    table = tmp_path / "adult.csv"
    small_adult.to_csv(table, index=False)
    code = cli(["generate", str(table), "-g", "copula", "--fair", "gender", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "--fair column 'gender' is not in the table" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_cli_fair_prints_the_measured_shares(tmp_path, capsys, small_adult: pd.DataFrame) -> None:
    table = tmp_path / "adult.csv"
    small_adult.to_csv(table, index=False)
    code = cli(["generate", str(table), "-g", "copula", "--rows", "1000", "--fair", "sex", "--target", "income",
                "--seed", "1", "--out", str(tmp_path / "r")])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    data = pd.read_parquet(tmp_path / "r" / "synthetic.parquet")
    gap = abs(np.diff(rate(data, data["sex"]).to_numpy())[0])
    assert f"label-rate gap {gap:.3f}" in printed


def test_a_dp_release_takes_its_groups_from_the_declared_schema(small_adult: pd.DataFrame) -> None:
    from synthgov.privacy.domains import declare_domains
    from synthgov.table.infer import infer_schema

    table = small_adult[["age", "education", "sex", "race", "income"]].head(2000)
    schema = declare_domains(infer_schema(table), table)
    release = generate(table, generator="mst", params={"epsilon": 1.0}, schema=schema, rows=1000, seed=11,
                       fair=("sex",), target="income", out=None)  # fmt: skip
    data = release.data
    rates, sizes = rate(data, data["sex"]), data["sex"].value_counts()
    assert abs(rates["Female"] - rates["Male"]) <= 1 / sizes["Female"] + 1 / sizes["Male"]
    undeclared = copy.deepcopy(schema)
    undeclared["sex"].categories = None  # the groups would have to be read from the rows: refused
    with pytest.raises(InputError, match="needs public categories in the schema of a DP release"):
        generate(table, generator="mst", params={"epsilon": 1.0}, schema=undeclared, rows=100, fair=("sex",))


def test_parity_with_value_rules_keeps_both(small_adult: pd.DataFrame) -> None:
    from pathlib import Path

    rules = Path(__file__).parent.parent / "examples" / "adult-rules.yaml"
    data = generate(small_adult, generator="copula", rows=2000, seed=12, fair=("sex",), target="income",
                    rules=rules, watermark=False).data  # fmt: skip
    assert not ((data["relationship"] == "Husband") & (data["sex"] != "Male")).any()
    assert not ((data["capital-gain"] > 0) & (data["capital-loss"] > 0)).any()
    rates, sizes = rate(data, data["sex"]), data["sex"].value_counts()
    assert abs(rates["Female"] - rates["Male"]) <= 1 / sizes["Female"] + 1 / sizes["Male"]
