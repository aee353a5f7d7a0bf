"""Value rules for the data-driven generators (issue 21): every generated row satisfies every rule, by exact
conditional resampling; rules are measured on the real table before fitting; bad rules are one clear error.

Expected values are computed here independently (pandas masks written out by hand, rejection sampling from the
same model), never by the code under test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.cli import run as cli
from synthgov.constraints.enforcement import sample_satisfying
from synthgov.constraints.preflight import check_rules
from synthgov.constraints.value_rules import load_rules
from synthgov.errors import InputError
from synthgov.pipeline import generate

ADULT_RULES = Path(__file__).parent.parent / "examples" / "adult-rules.yaml"


def by_hand(frame: pd.DataFrame) -> pd.DataFrame:
    """The ten Adult rules of examples/adult-rules.yaml, written as pandas masks (True: the row satisfies it)."""
    rel, sex, ms = frame["relationship"], frame["sex"], frame["marital-status"]
    gain, loss, age = frame["capital-gain"], frame["capital-loss"], frame["age"]
    pairs = frame[["education", "education-num"]].drop_duplicates()
    official = {
        ("Preschool", 1), ("1st-4th", 2), ("5th-6th", 3), ("7th-8th", 4), ("9th", 5), ("10th", 6), ("11th", 7),
        ("12th", 8), ("HS-grad", 9), ("Some-college", 10), ("Assoc-voc", 11), ("Assoc-acdm", 12),
        ("Bachelors", 13), ("Masters", 14), ("Prof-school", 15), ("Doctorate", 16),
    }  # fmt: skip
    assert len(pairs) > 0
    education_ok = np.array(
        [(e, int(n)) in official for e, n in zip(frame["education"], frame["education-num"], strict=True)]
    )
    return pd.DataFrame(
        {
            "husband-is-male": (rel != "Husband") | (sex == "Male"),
            "wife-is-female": (rel != "Wife") | (sex == "Female"),
            "spouses-are-married": ~rel.isin(["Husband", "Wife"])
            | ms.isin(["Married-civ-spouse", "Married-AF-spouse"]),
            "gain-or-loss": ~(gain > 0) | (loss == 0),
            "minors-earn-less": ~(age < 18) | (frame["income"] == "<=50K"),
            "schooling-before-age": age >= frame["education-num"] + 4,
            "working-age": age.between(17, 90),
            "hours-in-a-week": frame["hours-per-week"].between(1, 99),
            "education-matches-years": education_ok,
            "unmarried-is-not-married": ~((rel == "Unmarried") & (ms == "Married-civ-spouse")),
        }
    )


@pytest.fixture(scope="module")
def rules():
    return load_rules(ADULT_RULES)


@pytest.fixture(scope="module")
def small_adult(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.sample(4000, random_state=0).reset_index(drop=True)


# -- what a rule says -------------------------------------------------------------------------------------------
def test_each_rule_agrees_with_a_mask_written_by_hand(rules, adult: pd.DataFrame) -> None:
    expected = by_hand(adult)
    held = rules.holds(adult)
    for name in expected.columns:
        np.testing.assert_array_equal(held[name], expected[name].to_numpy(), err_msg=name)


def test_real_violation_rates_are_the_counted_exceptions(rules, adult: pd.DataFrame) -> None:
    check = check_rules(rules, adult)
    husbands_not_male = int(((adult["relationship"] == "Husband") & (adult["sex"] != "Male")).sum())
    wives_not_female = int(((adult["relationship"] == "Wife") & (adult["sex"] != "Female")).sum())
    assert (husbands_not_male, wives_not_female) == (1, 2)  # the data's own exceptions (Adult train.csv)
    assert check.real_violation_rate["husband-is-male"] == pytest.approx(1 / len(adult))
    assert check.real_violation_rate["wife-is-female"] == pytest.approx(2 / len(adult))
    assert check.broken_in_real_data().keys() == {"husband-is-male", "wife-is-female"}


def test_range_lets_missing_values_pass_and_unique_flags_repeats() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, 5.0, 11.0], "k": ["a", "b", "a", None]})
    ruled = load_rules([{"range": {"column": "x", "min": 0, "max": 10}}, {"unique": "k"}])
    held = ruled.holds(frame)
    assert held["x >= 0 and x <= 10"].tolist() == [True, True, True, False]
    assert held["k is unique"].tolist() == [True, True, False, True]


# -- bad rules: one clear error ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entries", "words"),
    [
        (["salary > 0"], "unknown column(s) 'salary'"),
        (["age.__class__ == 1"], "'Attribute' is not allowed"),
        (["open('x') == 1"], "only the functions"),
        ([{"if": "age > 30"}], "needs both 'if' and 'then'"),
        ([{"check": "age > 1", "unique": "age"}], "exactly one of"),
        (["age > 60", "age < 30"], "rules 'age > 60' and 'age < 30' contradict each other"),
        (
            [{"name": "men", "check": "sex == 'Male'"}, {"name": "no-men", "forbidden": {"sex": "Male"}}],
            "rules 'men' and 'no-men' contradict each other",
        ),
        (["sex == 'Other'"], "holds in no row of the data"),
        ([{"name": "a", "check": "age > 1"}, {"name": "a", "check": "age > 2"}], "two rules are named 'a'"),
    ],
)
def test_bad_rules_are_refused_before_fitting(adult: pd.DataFrame, entries: list, words: str) -> None:
    with pytest.raises(InputError) as caught:
        check_rules(load_rules(entries), adult)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_bad_rules_file_is_one_line_and_exit_2(tmp_path, capsys, small_adult: pd.DataFrame) -> None:
    table = tmp_path / "adult.csv"
    small_adult.to_csv(table, index=False)
    for text, words in [
        ("rules: ['salary > 0']\n", "unknown column(s) 'salary'"),
        ("rules: [\"__import__('os').system('true') == 0\"]\n", "only the functions"),
        ("rules: ['age > 60', 'age < 30']\n", "contradict each other"),
        ("rules: [[1, 2]]\n", "rules.0"),
    ]:
        path = tmp_path / "rules.yaml"
        path.write_text(text, encoding="utf-8")
        code = cli(["generate", str(table), "-g", "copula", "--rules", str(path), "--out", str(tmp_path / "r")])
        err = capsys.readouterr().err.strip()
        assert code == 2, err
        assert words in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


# -- every generated row satisfies every rule ---------------------------------------------------------------------
def fitted(name: str, table: pd.DataFrame):
    params = {"epochs": 1} if name in ("autoregressive", "ctgan", "tvae", "ddpm") else {}
    return synthgov.synthesizer(name, seed=3, **params).fit(table)


@pytest.mark.parametrize("name", ["copula", "bayesnet", "autoregressive", "ctgan", "tvae"])
def test_every_generator_releases_zero_violations(name: str, rules, small_adult: pd.DataFrame) -> None:
    model = fitted(name, small_adult)
    plain = model.sample(3000, seed=5)
    data, report = sample_satisfying(model, 3000, rules, seed=5)
    assert len(data) == 3000 and list(data.columns) == list(small_adult.columns)
    assert by_hand(data).all().all()
    # the rows that satisfied every rule are kept as drawn: the same rows as without rules
    first_ok = by_hand(plain).all(axis=1).to_numpy()
    pd.testing.assert_frame_equal(data[first_ok].reset_index(drop=True), plain[first_ok].reset_index(drop=True))
    assert report["rows_drawn_again"] == int((~first_ok).sum()) > 0
    # generators whose joint conditions are approximate get whole rule-satisfying rows; the others are conditioned
    whole = report["rows_replaced_whole"]
    assert (whole > 0) == model.rules_replace_whole_rows
    assert whole + report["rows_resampled_conditionally"] == report["rows_drawn_again"]


def test_enforced_rows_follow_rejection_sampling(rules, adult: pd.DataFrame) -> None:
    """The method is exact: its rows have the distribution of the model's rows conditioned on the rules, which
    rejection sampling from the same model estimates independently."""
    model = fitted("copula", adult)
    data, report = sample_satisfying(model, 20_000, rules, seed=11, keep_marginals=False)
    assert report["rows_drawn_again"] > 1_500  # the copula breaks the relationship rules often
    pool = model.sample(120_000, seed=12)
    accepted = pool[by_hand(pool).all(axis=1).to_numpy()].iloc[:20_000]
    assert len(accepted) == 20_000
    for column in ["relationship", "sex", "marital-status", "income", "education"]:
        p = data[column].value_counts(normalize=True)
        q = accepted[column].value_counts(normalize=True)
        tv = 0.5 * p.subtract(q, fill_value=0).abs().sum()
        assert tv < 0.02, (column, tv)
    for column in ["age", "hours-per-week"]:
        assert abs(data[column].mean() - accepted[column].mean()) < 0.03 * accepted[column].std(), column


def test_donors_keep_the_first_draws_marginals(rules, adult: pd.DataFrame) -> None:
    """By default the donors are weighted so that each rule column keeps the model's own marginal: closer to the
    plain draw than the exact conditional (uniform donors), on the columns the copula's violations concentrate in."""
    model = fitted("copula", adult)
    plain = model.sample(20_000, seed=11)
    kept, _ = sample_satisfying(model, 20_000, rules, seed=11)
    exact, _ = sample_satisfying(model, 20_000, rules, seed=11, keep_marginals=False)

    def tv(a: pd.Series, b: pd.Series) -> float:
        return 0.5 * a.value_counts(normalize=True).subtract(b.value_counts(normalize=True), fill_value=0).abs().sum()

    for column in ["relationship", "marital-status", "sex"]:
        assert tv(kept[column], plain[column]) < 0.75 * tv(exact[column], plain[column]), column
    assert by_hand(kept).all().all()


def test_same_seed_same_rows_and_conditions_are_kept(rules, small_adult: pd.DataFrame) -> None:
    model = fitted("copula", small_adult)
    a, _ = sample_satisfying(model, 2000, rules, seed=9, conditions={"sex": "Female"})
    b, _ = sample_satisfying(model, 2000, rules, seed=9, conditions={"sex": "Female"})
    pd.testing.assert_frame_equal(a, b)
    assert (a["sex"] == "Female").all() and by_hand(a).all().all()
    assert not (a["relationship"] == "Husband").any()  # the rule and the condition together


def test_datetime_rule_between_columns() -> None:
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, 3000), unit="D")
    end = start + pd.to_timedelta(rng.integers(1, 60, 3000), unit="D")
    table = pd.DataFrame({"start": start, "end": end, "plan": rng.choice(["a", "b", "c"], 3000)})
    ruled = load_rules(["end >= start + days(1)"])
    assert check_rules(ruled, table).real_violation_rate == {"end >= start + days(1)": 0.0}
    model = fitted("copula", table)
    plain = model.sample(5000, seed=1)
    assert ((plain["end"] - plain["start"]) < pd.Timedelta(days=1)).sum() > 100  # without the rule: broken
    data, _ = sample_satisfying(model, 5000, ruled, seed=1)
    assert ((data["end"] - data["start"]) >= pd.Timedelta(days=1)).all()


def test_unique_rule() -> None:
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"code": rng.integers(0, 400, 2000), "x": rng.normal(size=2000)})
    ruled = load_rules([{"unique": "code"}])
    model = fitted("copula", table)
    assert model.sample(300, seed=2)["code"].duplicated().any()
    data, _ = sample_satisfying(model, 300, ruled, seed=2)
    assert not data["code"].duplicated().any()
    categorical = pd.DataFrame({"k": rng.choice(["a", "b"], 500)})
    with pytest.raises(InputError, match="cannot hold in 10 rows: the column has 2 categories"):
        sample_satisfying(fitted("copula", categorical), 10, load_rules([{"unique": "k"}]), seed=0)


# -- a release with rules ----------------------------------------------------------------------------------------
def test_release_states_rules_and_keeps_the_mark_off_ruled_columns(tmp_path, small_adult: pd.DataFrame) -> None:
    release = generate(small_adult, generator="copula", rows=4000, seed=4, rules=str(ADULT_RULES), out=tmp_path / "r")
    assert by_hand(release.data).all().all()
    predicate = json.loads((tmp_path / "r" / "manifest.json").read_text())["statement"]["predicate"]
    section = predicate["value_rules"]
    assert [r["name"] for r in section["rules"]] == list(by_hand(small_adult).columns)
    assert all(r["violations_released"] == 0 for r in section["rules"])
    first_draw = max(r["violations_in_first_draw"] for r in section["rules"])
    assert section["rows_drawn_again"] >= first_draw > 0  # the copula breaks rules: rows were drawn again
    assert section["rows_resampled_conditionally"] == section["rows_drawn_again"]  # the copula's path
    assert section["rows_replaced_whole"] == 0 and "donors are weighted" in section["method"]
    real = by_hand(small_adult)
    for r in section["rules"]:
        assert r["real_violation_rate"] == pytest.approx(1 - real[r["name"]].mean(), abs=1e-6)
    ruled = {c for r in section["rules"] for c in r["columns"]}
    assert predicate["watermark"]["embedded"] and not ruled & set(predicate["watermark"]["carriers"])
    assert "Value rules: 10 rules" in (tmp_path / "r" / "datasheet.md").read_text()
    assert cli(["verify", str(tmp_path / "r")]) == 0
    assert cli(["detect", str(tmp_path / "r" / "synthetic.parquet")]) == 0


def test_schema_file_may_carry_the_rules(tmp_path, small_adult: pd.DataFrame) -> None:
    import yaml

    from synthgov.table.infer import infer_schema

    schema = tmp_path / "schema.yaml"
    infer_schema(small_adult).save(schema)
    document = yaml.safe_load(schema.read_text())
    document["rules"] = ["age >= `education-num` + 4", {"if": "relationship == 'Wife'", "then": "sex == 'Female'"}]
    schema.write_text(yaml.safe_dump(document))
    release = generate(small_adult, generator="copula", rows=3000, seed=1, schema=str(schema))
    data = release.data
    assert (data["age"] >= data["education-num"] + 4).all()
    assert not ((data["relationship"] == "Wife") & (data["sex"] != "Female")).any()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ddpm", "mst", "aim"])
def test_slow_generators_release_zero_violations(name: str, rules, small_adult: pd.DataFrame, tmp_path) -> None:
    """DDPM samples slowly; MST and AIM are DP: their rules are checked against the declared categories only (the
    real rows are read through the mechanisms alone), and the manifest says that the real rates were not measured."""
    from synthgov.privacy.domains import declare_domains
    from synthgov.table.infer import infer_schema

    options: dict = {"params": {"epochs": 1}} if name == "ddpm" else {"params": {"epsilon": 1.0}}
    if name != "ddpm":
        schema = tmp_path / "schema.yaml"
        declare_domains(infer_schema(small_adult), small_adult).save(schema)
        options["schema"] = str(schema)
    release = generate(
        small_adult, generator=name, rows=3000, seed=2, rules=str(ADULT_RULES), out=tmp_path / "r", **options
    )
    assert by_hand(release.data).all().all()
    section = json.loads((tmp_path / "r" / "manifest.json").read_text())["statement"]["predicate"]["value_rules"]
    assert ("real_violation_rate" in section["rules"][0]) == (name == "ddpm")


def test_rules_may_not_steer_columns_generated_fresh() -> None:
    rng = np.random.default_rng(4)
    table = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(600)],
            "email": [f"user{i}@example.com" for i in range(600)],
            "x": rng.normal(size=600),
        }
    )
    model = fitted("copula", table)
    kinds = {c.name: c.kind for c in model.schema_.columns}
    assert kinds["customer_id"] == "id" and kinds["email"] == "pii"
    data, _ = sample_satisfying(model, 500, load_rules([{"unique": "customer_id"}, "x > -1"]), seed=0)
    assert data["customer_id"].is_unique and (data["x"] > -1).all()
    with pytest.raises(InputError, match=r"'email' \(pii\).*generated fresh"):
        sample_satisfying(model, 50, load_rules(["email != 'a@b.c'"]), seed=0)


def test_sample_command_and_partitions_keep_the_rules(tmp_path, small_adult: pd.DataFrame) -> None:
    model = fitted("copula", small_adult)
    path = model.save(tmp_path / "m.synthgov")
    assert cli(["sample", str(path), "-n", "3000", "--seed", "1", "--rules", str(ADULT_RULES), "-o",
                str(tmp_path / "s.parquet")]) == 0  # fmt: skip
    assert by_hand(pd.read_parquet(tmp_path / "s.parquet")).all().all()
    assert cli(["sample", str(path), "-n", "5000", "--seed", "1", "--rules", str(ADULT_RULES), "-o",
                str(tmp_path / "parts"), "--partition-rows", "2000"]) == 0  # fmt: skip
    parts = sorted((tmp_path / "parts").glob("part-*.parquet"))
    assert len(parts) == 3
    assert by_hand(pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)).all().all()


def test_cli_generate_with_rules_reports_them(tmp_path, capsys, small_adult: pd.DataFrame) -> None:
    table = tmp_path / "adult.csv"
    small_adult.to_csv(table, index=False)
    args = ["generate", str(table), "-g", "bayesnet", "--rules", str(ADULT_RULES), "-n", "2000", "--seed", "3"]
    assert cli([*args, "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "value rules: 10 rules, 0 violations in 2,000 rows" in printed
    assert by_hand(pd.read_parquet(tmp_path / "r" / "synthetic.parquet")).all().all()
