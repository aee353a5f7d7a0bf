"""The watermark of a release on Adult (issue 5): detection, payload, cost, robustness, calibration, CLI.

The known gap, re-synthesis by SDV's GaussianCopula (parametric marginals), is measured by
benchmarks/watermark.py; docs/watermark.md gives the figures.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import is_text
from synthgov.cli.app import app
from synthgov.evaluation.fidelity import quality_scores
from synthgov.evaluation.prepare import load_tables
from synthgov.pipeline import generate
from synthgov.release.keys import Keystore
from synthgov.watermark import detect, registry

runner = CliRunner()


@pytest.fixture(scope="module")
def releases(adult: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    """The same copula release of Adult, marked (recipient alice) and unmarked (--no-watermark)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHGOV_HOME", str(tmp_path_factory.getbasetemp() / "synthgov-home"))
        out = tmp_path_factory.mktemp("wm")
        marked = generate(adult, generator="copula", seed=7, out=out / "marked", recipient="alice")
        plain = generate(adult, generator="copula", seed=7, out=out / "plain", watermark=False)
        store = Keystore.default()
        secret = store.watermark_secret()
        mark = marked.manifest["statement"]["predicate"]["watermark"]
        key_id = mark["key_id"]
        # this release's plan (other tests write releases to the same session keystore)
        plans = [plan for plan in registry.plans_for(key_id) if plan.id == mark["plan_id"]]
    return marked, plain, secret, key_id, plans


def _p(frame: pd.DataFrame, releases) -> float:
    _, _, secret, key_id, plans = releases
    return detect(frame, plans, secret, key_id).p_value


def test_manifest_records_the_mark_and_the_unmarked_release_says_so(releases) -> None:
    marked, plain, *_ = releases
    mark = marked.manifest["statement"]["predicate"]["watermark"]
    assert mark["embedded"] and mark["key_id"].startswith("wm:") and mark["recipient"] == "alice"
    assert set(mark["carriers"]) == {"age", "fnlwgt", "hours-per-week"}
    assert len(mark["plan_commitment"]) == 64 and "secret" not in json.dumps(mark)
    assert plain.manifest["statement"]["predicate"]["watermark"]["embedded"] is False


def test_detected_from_200_rows_and_payload_names_the_recipient_from_2000(releases) -> None:
    marked, plain, secret, key_id, plans = releases
    assert _p(marked.data.sample(200, random_state=1), releases) <= 1e-6
    found = detect(marked.data.sample(2000, random_state=2), plans, secret, key_id)
    assert found.recipient == "alice" and found.payload == plans[0].payload
    assert _p(plain.data, releases) > 1e-3  # the same rows unmarked: no false alarm


def test_the_mark_costs_at_most_half_a_point(releases, adult: pd.DataFrame, adult_test: pd.DataFrame) -> None:
    marked, plain, *_ = releases
    before = quality_scores(load_tables(adult, plain.data))
    after = quality_scores(load_tables(adult, marked.data))
    assert before["column_shapes"] - after["column_shapes"] <= 0.005
    assert before["column_pair_trends"] - after["column_pair_trends"] <= 0.005
    assert _tstr(plain.data, adult_test) - _tstr(marked.data, adult_test) <= 0.005
    for column in adult.columns:  # no invented categories, no values outside the unmarked range
        if is_text(marked.data[column]):
            assert set(marked.data[column].dropna()) <= set(plain.data[column].dropna())
        else:
            assert plain.data[column].min() <= marked.data[column].min() <= marked.data[column].max()
            assert marked.data[column].max() <= plain.data[column].max()


def _tstr(train: pd.DataFrame, test: pd.DataFrame) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    features = [c for c in train.columns if c != "income"]
    a, b = train[features].copy(), test[features].copy()
    for c in features:
        if is_text(a[c]):
            cats = pd.Index(pd.concat([a[c], b[c]]).dropna().unique())
            a[c], b[c] = pd.Categorical(a[c], categories=cats), pd.Categorical(b[c], categories=cats)
    model = HistGradientBoostingClassifier(random_state=0, categorical_features="from_dtype")
    model.fit(a, train["income"] == ">50K")
    return float(roc_auc_score(test["income"] == ">50K", model.predict_proba(b)[:, 1]))


def _flip(frame: pd.DataFrame, share: float) -> pd.DataFrame:
    rng, out = np.random.default_rng(3), frame.copy()
    for c in [c for c in out.columns if is_text(out[c])]:
        hit = rng.random(len(out)) < share
        out.loc[hit, c] = rng.choice(out[c].dropna().unique(), hit.sum())
    return out


def _csv_round_trip(frame: pd.DataFrame) -> pd.DataFrame:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    buffer.seek(0)
    parquet = io.BytesIO()
    pd.read_csv(buffer).to_parquet(parquet)
    return pd.read_parquet(parquet)


def _noise(frame: pd.DataFrame) -> pd.DataFrame:
    rng, out = np.random.default_rng(6), frame.copy()
    for c in ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]:
        out[c] = out[c] + rng.normal(0, 0.05 * out[c].std(), len(out))
    return out


def _round2(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]:
        x = out[c].astype(float)
        unit = 10 ** (np.floor(np.log10(x.abs().where(x != 0, 1))) - 1)
        out[c] = np.round(x / unit) * unit
    return out


ATTACKS = {
    "delete 90% of rows": lambda t: t.sample(frac=0.1, random_state=4),
    "keep 3 of 15 columns (fnlwgt, sex, race)": lambda t: t[["fnlwgt", "sex", "race"]],
    "keep 3 columns whose only carrier is age": lambda t: t[["age", "education", "income"]],
    "flip 20% of categorical cells": lambda t: _flip(t, 0.2),
    "shuffle rows and columns": lambda t: t.sample(frac=1.0, random_state=5)[list(reversed(t.columns))],
    "CSV -> Parquet round trip": _csv_round_trip,
    "Gaussian noise of 5% of the SD": _noise,
    "rounding to 2 significant digits": _round2,
}
GAPS: dict = {}  # attacks the mark does not survive yet (benchmarks/watermark.py prints them too)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_survives(attack: str, releases) -> None:
    assert _p(ATTACKS[attack](releases[0].data), releases) <= 1e-6


def test_survives_resynthesis_by_a_model_that_keeps_only_category_shares(releases) -> None:
    """A new model with parametric numeric marginals and no cell structure at all (SDV's GaussianCopula fits beta
    laws; this one fits normals and draws every column independently): the keyed category shares remain."""
    marked = releases[0].data
    rng = np.random.default_rng(13)
    again = pd.DataFrame(index=range(len(marked)))
    for column in marked.columns:
        values = marked[column]
        if pd.api.types.is_numeric_dtype(values):
            again[column] = np.round(rng.normal(values.mean(), values.std(), len(marked)))
        else:
            shares = values.value_counts(normalize=True, dropna=False)
            again[column] = rng.choice(shares.index.to_numpy(), size=len(marked), p=shares.to_numpy())
    assert _p(again, releases) <= 1e-3


@pytest.mark.slow
def test_survives_resynthesis_by_sdv_gaussian_copula(releases) -> None:
    pytest.importorskip("sdv")
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    marked = releases[0].data
    model = GaussianCopulaSynthesizer(Metadata.detect_from_dataframes({"t": marked}))
    model.fit({"t": marked})
    again = model.sample(len(marked))
    assert _p(again["t"] if isinstance(again, dict) else again, releases) <= 1e-3


def test_survives_resynthesis_by_synthgov_copula(releases) -> None:
    import synthgov

    marked = releases[0].data
    again = synthgov.synthesizer("copula", seed=11).fit(marked).sample(len(marked), seed=12)
    assert _p(again, releases) <= 1e-3


@pytest.mark.slow
def test_calibrated_over_10000_wrong_keys(releases, adult: pd.DataFrame) -> None:
    _, _, _, _, plans = releases
    rng = np.random.default_rng(8)
    tables = (adult, releases[0].data)
    p = np.array([detect(table, plans, rng.bytes(32), "wm:x").p_value for table in tables for _ in range(5000)])
    assert (p <= 1e-3).mean() <= 1.5e-3
    assert p.min() > 1e-6


def test_cli_detect_verify_and_no_watermark(tmp_path: Path, adult: pd.DataFrame) -> None:
    source = tmp_path / "adult.csv"
    adult.head(4000).to_csv(source, index=False)
    code, text = _run("generate", str(source), "-g", "copula", "--out", str(tmp_path / "rel"), "--recipient", "bob")
    assert code == 0 and "watermarked with key" in text, text
    code, text = _run("detect", str(tmp_path / "rel" / "synthetic.parquet"), "--json")
    found = json.loads(text)
    assert code == 0 and found["found"] and found["p_value"] <= 1e-6 and found["recipient"] == "bob"
    assert {"p_value", "key_id", "payload", "rows"} <= set(found) and found["rows"] == 4000
    assert _run("detect", str(source))[0] == 1  # the real rows carry no mark
    code, text = _run("verify", str(tmp_path / "rel"))
    assert code == 0 and "watermark: present" in text
    code, text = _run("generate", str(source), "-g", "copula", "--out", str(tmp_path / "plain"), "--no-watermark")
    assert code == 0 and "not watermarked" in text
    assert _run("detect", str(tmp_path / "plain"))[0] == 1
    (tmp_path / "junk.csv").write_bytes(b"\x00\x01garbage")
    assert _run("detect", str(tmp_path / "junk.csv"))[0] == 2
    assert _run("detect", str(tmp_path / "missing.csv"))[0] == 2


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output
