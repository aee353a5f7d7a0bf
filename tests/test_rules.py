"""The rules generator: declared distributions hold (goodness-of-fit tests), row rules always hold, dependencies
work, and bad specs are clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import synthgov
from synthgov.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "customers.yaml"
ALPHA = 1e-3


def _spec(without_rules: bool = False) -> dict:
    spec = yaml.safe_load(EXAMPLE.read_text())
    if without_rules:
        spec.pop("rules")
    return spec


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    return synthgov.synthesizer("rules", spec=str(EXAMPLE), seed=11).fit().sample(200_000)


@pytest.fixture(scope="module")
def unconstrained() -> pd.DataFrame:
    return synthgov.synthesizer("rules", spec=_spec(without_rules=True), seed=12).fit().sample(100_000)


def _chi2_discrete(values: np.ndarray, support: np.ndarray, probs: np.ndarray) -> float:
    counts = np.array([(values == s).sum() for s in support])
    assert counts.sum() == len(values), "values outside the declared support"
    expected = probs / probs.sum() * len(values)
    keep = expected >= 5
    observed = np.append(counts[keep], counts[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        observed, exp = observed[:-1], exp[:-1]
    return float(stats.chisquare(observed, exp).pvalue)


def test_example_is_big_enough() -> None:
    spec = _spec()
    whens = sum(1 for c in spec["columns"].values() if "when" in c)
    expression_params = sum(
        1
        for c in spec["columns"].values()
        for v in c.values()
        if isinstance(v, str) and c.get("type") != "categorical" and any(name in v for name in spec["columns"])
    )
    assert len(spec["columns"]) >= 10 and len(spec["rules"]) >= 2 and whens + expression_params >= 3


def test_every_row_satisfies_every_rule(example: pd.DataFrame) -> None:
    assert len(example) == 200_000
    assert (example["credit_limit"] <= example["income"]).all()
    assert ((example["segment"] != "vip") | (example["credit_score"] >= 600)).all()
    assert example["customer_id"].is_unique and example["customer_id"].str.fullmatch(r"CUST-\d{10}").all()
    has = example["last_purchase"].notna()
    assert (example.loc[has, "last_purchase"] >= example.loc[has, "signup_date"]).all()


def test_truncated_rounded_normal(example: pd.DataFrame) -> None:
    age = example["age"].to_numpy()
    support = np.arange(18, 96)
    dist = stats.truncnorm((18 - 44) / 14, (95 - 44) / 14, loc=44, scale=14)
    probs = dist.cdf(np.minimum(support + 0.5, 95)) - dist.cdf(np.maximum(support - 0.5, 18))
    assert _chi2_discrete(age, support, probs) > ALPHA


def test_categorical_bernoulli_poisson(example: pd.DataFrame) -> None:
    channels = example["channel"].to_numpy(dtype=object)
    assert _chi2_discrete(channels, np.array(["web", "app", "store", "phone"], dtype=object), np.full(4, 0.25)) > ALPHA
    assert stats.binomtest(int(example["newsletter"].sum()), len(example), 0.35).pvalue > ALPHA
    orders = example["orders_last_year"].to_numpy()
    support = np.arange(0, orders.max() + 1)
    assert _chi2_discrete(orders, support, stats.poisson.pmf(support, 6)) > ALPHA


def test_when_branches_follow_their_own_law(example: pd.DataFrame) -> None:
    young = example["age"] < 25
    assert stats.binomtest(int(example.loc[young, "churned"].sum()), int(young.sum()), 0.25).pvalue > ALPHA
    assert stats.binomtest(int(example.loc[~young, "churned"].sum()), int((~young).sum()), 0.12).pvalue > ALPHA


def test_datetimes_uniform_between_their_bounds(example: pd.DataFrame) -> None:
    days = (example["signup_date"] - pd.Timestamp("2015-01-01")).dt.days.to_numpy()
    assert days.min() >= 0 and days.max() <= 3652
    assert stats.kstest((days + 0.5) / 3653, "uniform").pvalue > ALPHA
    has = example["last_purchase"].notna()
    assert abs(1 - has.mean() - 0.08) < 0.005
    span = (pd.Timestamp("2025-06-30") - example.loc[has, "signup_date"]).dt.total_seconds()
    share = (example.loc[has, "last_purchase"] - example.loc[has, "signup_date"]).dt.total_seconds() / span
    assert stats.kstest(share.to_numpy()[:20_000], "uniform").pvalue > ALPHA


def test_rule_columns_follow_the_declared_law_before_the_rules(unconstrained: pd.DataFrame) -> None:
    """Row rules condition the declared law; without them each declared distribution holds exactly."""
    seg = unconstrained["segment"].to_numpy(dtype=object)
    assert (
        _chi2_discrete(seg, np.array(["retail", "business", "vip"], dtype=object), np.array([0.7, 0.25, 0.05])) > ALPHA
    )
    for segment, mu, sigma in [("retail", 10.5, 0.45), ("business", 11.2, 0.4), ("vip", 12.3, 0.3)]:
        income = unconstrained.loc[unconstrained["segment"] == segment, "income"].to_numpy()
        assert stats.kstest(np.log(income), "norm", args=(mu, sigma)).pvalue > ALPHA, segment
    # credit_limit ~ N(income * 0.25 + (score - 600) * 20, 1500) truncated below at 500, rounded to units
    rows = unconstrained.head(20_000)
    mean = rows["income"] * 0.25 + (rows["credit_score"] - 600) * 20
    lower = stats.norm.cdf((500 - mean) / 1500)
    u = (stats.norm.cdf((rows["credit_limit"] - mean) / 1500) - lower) / (1 - lower)
    assert abs(u.mean() - 0.5) < 0.01  # rounding to units is negligible against sd 1500
    score = rows["credit_score"].to_numpy()
    support = np.arange(300, 851)
    dist = stats.truncnorm((300 - 680) / 60, (850 - 680) / 60, loc=680, scale=60)
    probs = dist.cdf(np.minimum(support + 0.5, 850)) - dist.cdf(np.maximum(support - 0.5, 300))
    assert _chi2_discrete(score, support, probs) > ALPHA


def test_seed_save_load_and_conditions(tmp_path) -> None:
    model = synthgov.synthesizer("rules", spec=_spec(), seed=5).fit()
    a = model.sample(500, seed=1)
    assert a.to_csv() == model.sample(500, seed=1).to_csv()
    loaded = synthgov.load(model.save(tmp_path / "rules.synthgov"))
    assert loaded.sample(500, seed=1).to_csv() == a.to_csv()
    vip = model.sample(300, seed=2, conditions={"segment": "vip"})
    assert (vip["segment"] == "vip").all() and (vip["credit_score"] >= 600).all()
    assert np.log(vip["income"]).mean() > 12.0  # the branch for vip applies
    with pytest.raises(InputError, match="unknown column"):
        model.sample(5, conditions={"nope": 1})


def test_a_table_is_refused_and_a_spec_is_required() -> None:
    with pytest.raises(InputError, match="spec alone"):
        synthgov.synthesizer("rules", spec=_spec()).fit(pd.DataFrame({"a": [1]}))
    with pytest.raises(InputError, match="needs a spec"):
        synthgov.synthesizer("rules").fit()


@pytest.mark.parametrize(
    ("columns", "rules", "message"),
    [
        ({"a": {"type": "normal", "mean": 0}}, [], "needs sd"),
        ({"a": {"type": "banana"}}, [], "unknown type"),
        ({"a": {"type": "normal", "mean": "b + 1", "sd": 1}}, [], "unknown column"),
        (
            {"a": {"type": "normal", "mean": "b", "sd": 1}, "b": {"type": "normal", "mean": "a", "sd": 1}},
            [],
            "circular",
        ),
        ({"a": {"type": "uniform", "low": 0, "high": 1}}, ["a > 2"], "never satisfied"),
        ({"a": {"type": "uniform", "low": 0, "high": 1}}, ["__import__('os').system('x')"], "may be called"),
        ({"a": {"type": "categorical", "weights": {"x": -1}}}, [], "non-negative"),
        ({"a": {"type": "faker", "provider": "seed_instance"}}, [], "not a Faker provider"),
        ({"a": {"type": "normal", "mean": 0, "sd": 1, "colour": "red"}}, [], "unknown option"),
        ({"a": {"type": "id", "pattern": "[0-9]"}}, [], "distinct values"),
    ],
)
def test_bad_specs_are_clear_errors(columns: dict, rules: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        synthgov.synthesizer("rules", spec={"columns": columns, "rules": rules}, seed=0).fit().sample(50)


@pytest.mark.slow
def test_a_million_rows_all_satisfy_the_rules() -> None:
    data = synthgov.synthesizer("rules", spec=str(EXAMPLE), seed=1).fit().sample(1_000_000)
    assert len(data) == 1_000_000 and data["customer_id"].is_unique
    assert (data["credit_limit"] <= data["income"]).all()
    assert ((data["segment"] != "vip") | (data["credit_score"] >= 600)).all()
