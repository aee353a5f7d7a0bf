"""Shared fixtures: the real Adult table (from ../shared when present, else the shipped demo copy) and small
mixed tables that exercise every column kind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _adult(split: str) -> pd.DataFrame:
    path = SHARED / "adult" / f"{split}.csv"
    if path.exists():
        return pd.read_csv(path)
    from synthgov import load_demo

    return load_demo("adult", split)


@pytest.fixture(scope="session")
def adult() -> pd.DataFrame:
    return _adult("train")


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    return _adult("test")


GERMAN = Path(__file__).resolve().parent / "data" / "german_credit.csv"  # CC BY 4.0, see tests/data/ATTRIBUTION.md


@pytest.fixture(scope="session")
def german() -> pd.DataFrame:
    return pd.read_csv(GERMAN)


def make_mixed(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Every kind of column: numbers with gaps, integer steps, categories with a rare value and gaps, booleans,
    datetimes (naive, before 1677, time-zone aware), an id, a constant."""
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, n)
    group = rng.choice(["a", "b", "c", "rare"], size=n, p=[0.5, 0.3, 0.19, 0.01]).astype(object)
    group[rng.random(n) < 0.1] = None
    price = np.round(rng.lognormal(3, 0.5, n), 2)
    price[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "record_id": np.arange(1000, 1000 + n),
            "x": x,
            "y": 2 * x + rng.normal(0, 3, n),
            "count5": (rng.integers(0, 20, n) * 5).astype(np.int64),
            "price": price,
            "group": group,
            "flag": rng.random(n) < 0.3,
            "when": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
            "old": [f"{1500 + int(v)}-06-15" for v in rng.integers(0, 150, n)],
            "stamp": pd.to_datetime("2023-03-01 08:00", utc=True).tz_convert("Europe/Paris")
            + pd.to_timedelta(rng.integers(0, 10_000_000, n), unit="s"),
            "constant": "same",
        }
    )
    return frame


@pytest.fixture
def mixed() -> pd.DataFrame:
    return make_mixed()


# The session keystore's watermark secret is fixed, so that every watermark p-value of the suite is the same on
# every run: a fresh random secret per run made each statistical bound a new draw (the stand-in re-synthesis
# test failed 1 run in 50 by chance; docs/watermark.md gives that distribution over keys).
TEST_WATERMARK_SECRET = hashlib.sha256(b"synthgov test keystore").digest()


@pytest.fixture(scope="session", autouse=True)
def _session_keystore(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Created before any module-scoped fixture writes a release into it."""
    from synthgov.release.keys import Keystore

    Keystore(tmp_path_factory.getbasetemp() / "synthgov-home" / "keys").init(watermark_secret=TEST_WATERMARK_SECRET)


@pytest.fixture(autouse=True)
def _private_keystore(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the user's ~/.synthgov: each session gets its own keystore home."""
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path_factory.getbasetemp() / "synthgov-home"))


def is_text(series: pd.Series) -> bool:
    """A column of strings on any pandas: object (pandas 2) or the default string dtype ``str`` (pandas 3); a
    ``dtype == object`` test alone silently matches no column on pandas 3."""
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype)


@pytest.fixture(scope="session")
def dask_scheduler():
    """A Dask scheduler's address with two worker processes: the cluster CI starts (``$SYNTHGOV_TEST_DASK``, run
    from the test venv) or, without it, a LocalCluster. A test that kills a worker leaves its nanny to restart it:
    tests needing both workers wait for them (:func:`wait_for_dask_workers`)."""
    import os

    pytest.importorskip("distributed")
    address = os.environ.get("SYNTHGOV_TEST_DASK")
    if address:
        wait_for_dask_workers(address, 2)
        yield address
        return
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def wait_for_dask_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=300) as client:
        client.wait_for_workers(count, timeout=300)
