"""The conformance suite every registered data-driven generator must pass (like scikit-learn's
``check_estimator``): contract, round trips, seeds, conditions, missing values, datetimes, edge-case tables."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.errors import InputError, ModelFileError, NotFittedError
from synthgov.generators import registry
from synthgov.generators.base import Synthesizer, TabularSynthesizer

DATA_DRIVEN = [name for name in registry.available() if issubclass(registry.get(name), TabularSynthesizer)]
# Neural generators on the 600-row test table: shorter training (their defaults are for real data); TVAE and CTGAN
# without early stopping, which on 60 validation rows stops them long before their marginals settle (CTGAN after 60
# epochs carried 12-28 of a real 51 of y's dependence on x over 4 seeds; after 150, 19-31).
QUICK = {
    "ctgan": {"epochs": 150, "patience": None},
    "tvae": {"patience": None},
    "ddpm": {"epochs": 60, "sampling_steps": 25},
}
# Missing-value rates within 2 points, except the GAN: on this 600-row table, after 60-150 epochs, CTGAN (ours as
# the paper's: training-by-sampling oversamples rare conditions) gives 4.6-10% missing prices for a real 4.5%,
# depending on the seed; on Adult its marginals are within the quality targets (docs/generators.md).
MISSING_TOLERANCE = {"ctgan": 0.06}


def make(name: str, **params: object) -> Synthesizer:
    return synthgov.synthesizer(name, **{**QUICK.get(name, {}), **params})


@pytest.fixture(params=DATA_DRIVEN)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def _fitted_models() -> dict[str, bytes]:
    return {}


@pytest.fixture
def fitted(name: str, mixed: pd.DataFrame, _fitted_models: dict[str, bytes], tmp_path) -> Synthesizer:
    """Fitted once per generator and module (neural ones take seconds); each test gets a fresh copy loaded from
    the saved file, so no test sees another's state."""
    path = tmp_path / "model.zip"
    if name not in _fitted_models:
        make(name, seed=3).fit(mixed).save(path)
        _fitted_models[name] = path.read_bytes()
    path.write_bytes(_fitted_models[name])
    return synthgov.load(path)


def test_registry_lists_the_foundation_generators() -> None:
    assert {"copula", "bayesnet", "rules"} <= set(registry.available())
    assert registry.DEFAULT_GENERATOR in registry.available()
    with pytest.raises(InputError, match="unknown generator 'nope'"):
        synthgov.synthesizer("nope")


def test_parameters_live_in_init_and_fit_returns_self(name: str, mixed: pd.DataFrame) -> None:
    model = make(name, seed=1)
    params = model.get_params()
    assert params["seed"] == 1
    assert not model.is_fitted
    # fit stores learned state in attributes ending in "_", never changes parameters
    assert model.fit(mixed) is model
    assert model.get_params() == params
    assert model.is_fitted and model.seed_ == 1
    clone = type(model)(**params)
    assert clone.get_params() == params
    with pytest.raises(InputError):
        model.set_params(not_a_parameter=1)


def test_sample_before_fit_is_a_clear_error(name: str) -> None:
    with pytest.raises(NotFittedError):
        synthgov.synthesizer(name).sample(5)


def test_columns_types_and_order_are_kept(fitted: Synthesizer, mixed: pd.DataFrame) -> None:
    out = fitted.sample(400, seed=0)
    assert list(out.columns) == list(mixed.columns)
    assert len(out) == 400
    for col in ["x", "y", "count5", "flag", "constant", "record_id"]:
        assert out[col].dtype == mixed[col].dtype, col
    assert str(out["stamp"].dt.tz) == "Europe/Paris"
    assert pd.api.types.is_datetime64_any_dtype(out["when"])
    assert pd.api.types.is_datetime64_any_dtype(out["old"])  # dates before 1677 survive
    assert out["old"].dt.year.between(1500, 1650).all()
    assert (out["count5"] % 5 == 0).all()  # the integer step is kept
    assert (out["constant"] == "same").all()
    prices = out["price"].dropna()
    assert np.allclose(prices, prices.round(2))  # decimals kept


def test_missing_rates_and_category_sets(fitted: Synthesizer, mixed: pd.DataFrame) -> None:
    out = fitted.sample(6000, seed=1)
    tolerance = MISSING_TOLERANCE.get(fitted.name, 0.02)
    for col in ["group", "price"]:
        assert abs(out[col].isna().mean() - mixed[col].isna().mean()) < tolerance, col
    assert set(out["group"].dropna()) <= set(mixed["group"].dropna())  # nothing invented
    assert "rare" in set(out["group"])


def test_ids_are_fresh_and_unique(fitted: Synthesizer, mixed: pd.DataFrame) -> None:
    out = fitted.sample(500, seed=2)
    assert out["record_id"].is_unique
    assert not set(out["record_id"]) & set(mixed["record_id"])


def test_same_seed_same_bytes_and_reload_samples_the_same(
    fitted: Synthesizer, name: str, mixed: pd.DataFrame, tmp_path
) -> None:
    a = fitted.sample(300, seed=7)
    b = fitted.sample(300, seed=7)
    c = fitted.sample(300, seed=8)
    assert a.to_csv().encode() == b.to_csv().encode()
    assert not a.equals(c)
    refit = make(name, seed=3).fit(mixed)
    assert refit.sample(300, seed=7).to_csv() == a.to_csv()
    path = fitted.save(tmp_path / "m.synthgov")
    loaded = synthgov.load(path)
    assert type(loaded) is type(fitted) and loaded.get_params() == fitted.get_params()
    assert loaded.sample(300, seed=7).to_csv() == a.to_csv()
    # calls without a seed differ from each other but replay identically after a reload
    first, second = fitted.sample(50), fitted.sample(50)
    assert not first.equals(second)
    reloaded = synthgov.load(path)
    assert reloaded.sample(50).to_csv() == synthgov.load(path).sample(50).to_csv()


def test_conditions_hold_exactly_in_one_call(fitted: Synthesizer) -> None:
    out = fitted.sample(300, seed=4, conditions={"group": "rare", "flag": True})
    assert len(out) == 300
    assert (out["group"] == "rare").all() and out["flag"].all()
    numeric = fitted.sample(50, seed=4, conditions={"count5": 45})
    assert (numeric["count5"] == 45).all()


def test_conditions_change_the_other_columns(fitted: Synthesizer, mixed: pd.DataFrame) -> None:
    """y = 2x + noise: conditioning on x must move y (the dependence is used, not ignored): by far more than the
    sampling noise of the two means, by at least a fifth of the data's own effect, and by more than 20. Measured
    (seed 3): the statistical generators 47-52 of a real 51; the neural ones after their short test training
    24-47, each with a standard error below 1.4."""
    x_high, x_low = float(mixed["x"].quantile(0.9)), float(mixed["x"].quantile(0.1))
    high = fitted.sample(400, seed=5, conditions={"x": x_high})["y"]
    low = fitted.sample(400, seed=5, conditions={"x": x_low})["y"]
    moved = high.mean() - low.mean()
    noise = np.sqrt(high.var() / len(high) + low.var() / len(low))
    real_effect = np.polyfit(mixed["x"], mixed["y"], 1)[0] * (x_high - x_low)
    assert moved > 5 * noise
    assert moved > 0.2 * real_effect
    assert moved > 20


def test_per_row_conditions(fitted: Synthesizer) -> None:
    wanted = pd.DataFrame({"group": ["a", "b", "rare"] * 20})
    out = fitted.sample(60, seed=6, conditions=wanted)
    assert out["group"].tolist() == wanted["group"].tolist()


def test_bad_conditions_are_clear_errors(fitted: Synthesizer) -> None:
    with pytest.raises(InputError, match="unknown column"):
        fitted.sample(5, conditions={"nope": 1})
    with pytest.raises(InputError, match="never appears"):
        fitted.sample(5, conditions={"group": "zzz"})
    with pytest.raises(InputError, match="outside the range"):
        fitted.sample(5, conditions={"x": 1e9})
    with pytest.raises(InputError, match="identifier"):
        fitted.sample(5, conditions={"record_id": 1})
    with pytest.raises(InputError, match="positive integer"):
        fitted.sample(0)


def test_one_row_and_constant_tables(name: str) -> None:
    one = pd.DataFrame({"a": [1.5], "b": ["x"], "c": [True]})
    out = make(name, seed=0).fit(one).sample(20, seed=0)
    assert (out["a"] == 1.5).all() and (out["b"] == "x").all() and out["c"].all()
    const = pd.DataFrame({"k": [7] * 50, "z": np.arange(50.0)})
    out = make(name, seed=0).fit(const).sample(30, seed=0)
    assert (out["k"] == 7).all() and out["z"].between(0, 49).all()


def test_all_missing_column(name: str) -> None:
    frame = pd.DataFrame({"a": np.arange(40.0), "empty": [None] * 40})
    out = make(name, seed=0).fit(frame).sample(30, seed=0)
    assert out["empty"].isna().all()


def test_untrusted_model_files_are_refused_without_running_code(tmp_path) -> None:
    garbage = tmp_path / "garbage.synthgov"
    garbage.write_bytes(b"\x80\x04not a zip at all")
    with pytest.raises(ModelFileError):
        synthgov.load(garbage)
    # An archive whose arrays need pickle (object arrays) must not load.
    evil = tmp_path / "evil.synthgov"
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr(
            "model.json",
            '{"format": "synthgov-model", "format_version": 1, "generator": "copula", '
            '"params": {}, "state": {"x": {"__array__": "a0"}}}',
        )
        npz = io.BytesIO()
        with zipfile.ZipFile(npz, "w") as inner:
            inner.writestr("a0.npy", buffer.getvalue())
        archive.writestr("arrays.npz", npz.getvalue())
    with pytest.raises(ModelFileError):
        synthgov.load(evil)
    truncated = tmp_path / "truncated.synthgov"
    truncated.write_bytes(b"PK\x03\x04" + b"\x00" * 10)
    with pytest.raises(ModelFileError):
        synthgov.load(truncated)


# -- the estimator contract for every registered generator, rules included (scikit-learn's check_estimator rules)
ALL = list(registry.available())
RULES_SPEC = {
    "columns": {
        "age": {"type": "normal", "mean": 40, "sd": 9, "round": 0},
        "tier": {"type": "categorical", "values": ["a", "b"]},
    }
}


def _fit_table(name: str, mixed: pd.DataFrame) -> object:
    return RULES_SPEC if name == "rules" else mixed


def _fit(model: Synthesizer, name: str, mixed: pd.DataFrame) -> Synthesizer:
    """Fit as each kind of generator is fitted: rules from its spec; a DP generator on the columns it models,
    with their domains declared public (it refuses ids, text and datetimes, and needs the declaration)."""
    if name == "rules":
        return model.fit(None)
    if getattr(model, "is_private", False):
        from synthgov.privacy.domains import declare_domains
        from synthgov.table.infer import infer_schema

        schema = infer_schema(mixed)
        kept = [c.name for c in schema.columns if c.kind in ("numeric", "categorical", "boolean")]
        part = mixed[kept]
        return model.fit(part, declare_domains(infer_schema(part), part))
    return model.fit(mixed)


def _params(name: str, tmp_path) -> dict:
    if name != "rules":
        return {**QUICK.get(name, {}), "seed": 4}
    path = tmp_path / "spec.yaml"  # a path parameter must stay a path after fit
    path.write_text(__import__("yaml").safe_dump(RULES_SPEC))
    return {"spec": str(path), "seed": 4}


def _deep_copy(value: object) -> object:
    import copy

    return copy.deepcopy(value)


@pytest.fixture(params=ALL)
def any_name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_fit_never_changes_a_parameter(any_name: str, mixed: pd.DataFrame, tmp_path) -> None:
    params = _params(any_name, tmp_path)
    if any_name == "tvae":
        params["hidden"] = [32, 32]  # a list, as a JSON config gives it (fit turned it into a tuple)
    model = synthgov.synthesizer(any_name, **params)
    before = {k: _deep_copy(v) for k, v in model.get_params().items()}
    identities = {k: id(v) for k, v in model.get_params().items()}
    _fit(model, any_name, mixed)
    after = model.get_params()
    for key, value in before.items():
        assert type(after[key]) is type(value) and after[key] == value, key
        assert id(after[key]) == identities[key], key


def test_clone_gives_an_equal_unfitted_estimator(any_name: str, mixed: pd.DataFrame, tmp_path) -> None:
    from sklearn.base import clone

    model = synthgov.synthesizer(any_name, **_params(any_name, tmp_path))
    _fit(model, any_name, mixed)
    copy = clone(model)
    assert type(copy) is type(model) and copy is not model
    assert copy.get_params(deep=False) == model.get_params(deep=False)
    assert copy.get_params(deep=True) == model.get_params(deep=True)
    assert not copy.is_fitted
    with pytest.raises(NotFittedError):
        copy.sample(3)
    # the clone fits to the same model: same seed, same rows
    _fit(copy, any_name, mixed)
    pd.testing.assert_frame_equal(copy.sample(20, seed=5), model.sample(20, seed=5))


def test_a_failed_fit_leaves_the_model_unfitted(any_name: str, mixed: pd.DataFrame, tmp_path, monkeypatch) -> None:
    model = synthgov.synthesizer(any_name, **_params(any_name, tmp_path))
    _fit(model, any_name, mixed)
    assert model.is_fitted
    if any_name == "rules":
        bad = {"columns": {"x": {"type": "no-such-distribution"}}}
        with pytest.raises(InputError):
            model.fit(bad)
    else:
        # a failure deep inside training, after the shared pipeline has set its attributes
        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("training failed")

        hook = "_fit_model" if isinstance(model, TabularSynthesizer) else "_select_and_estimate"
        monkeypatch.setattr(type(model), hook, broken)
        with pytest.raises(RuntimeError, match="training failed"):
            _fit(model, any_name, mixed)
    assert not model.is_fitted
    assert [k for k in vars(model) if k.endswith("_") and not k.startswith("__")] == []
    with pytest.raises(NotFittedError):
        model.sample(3)
    assert model.get_params() == synthgov.synthesizer(any_name, **_params(any_name, tmp_path)).get_params()
