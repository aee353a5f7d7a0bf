"""Partitioned sampling on a Dask cluster (``synthgov sample ... --dask``): the same seed gives byte-identical
partitions with one worker, two workers and no Dask at all, and a worker killed mid-run is recovered by Dask with
every partition written exactly once, each the same bytes as without the kill."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

from conftest import wait_for_dask_workers
from synthgov import synthesizer
from synthgov.partitions import sample_partitioned


@pytest.fixture(scope="module")
def copula(adult: pd.DataFrame):
    return synthesizer("copula", seed=5).fit(adult.head(4000))


def digests(index: dict) -> dict[str, str]:
    return {entry["file"]: entry["sha256"] for entry in index["partitions"]}


def test_the_same_seed_gives_the_same_bytes_with_one_and_two_workers(tmp_path: Path, copula, dask_scheduler) -> None:
    wait_for_dask_workers(dask_scheduler, 2)
    here = sample_partitioned(copula, 9_000, tmp_path / "here", seed=21, partition_rows=1_000)
    one = sample_partitioned(copula, 9_000, tmp_path / "one", seed=21, partition_rows=1_000, dask="local", workers=1)
    two = sample_partitioned(copula, 9_000, tmp_path / "two", seed=21, partition_rows=1_000, dask=dask_scheduler)
    assert len(digests(here)) == 9
    assert digests(one) == digests(here) == digests(two)
    for name in digests(here):  # the files themselves, not only what the index says of them
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()


def test_a_worker_killed_mid_run_loses_and_doubles_no_partition(tmp_path: Path, copula, dask_scheduler) -> None:
    from distributed import Client

    wait_for_dask_workers(dask_scheduler, 2)
    count, size = 240, 2_000
    expected = sample_partitioned(copula, count * size, tmp_path / "expected", seed=8, partition_rows=size)
    with Client(dask_scheduler, timeout=60) as client:
        workers = list(client.run(os.getpid).values())
    result: dict = {}

    def draw() -> None:
        try:
            result["index"] = sample_partitioned(copula, count * size, tmp_path / "killed", seed=8,
                                                 partition_rows=size, dask=dask_scheduler)  # fmt: skip
        except BaseException as exc:  # reported by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=draw)
    thread.start()
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "killed").glob("part-*.parquet"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    written_at_kill = len(list((tmp_path / "killed").glob("part-*.parquet")))
    os.kill(workers[0], signal.SIGKILL)
    thread.join(timeout=300)
    assert "error" not in result, result.get("error")
    assert 5 <= written_at_kill < count  # the kill happened mid-run
    assert digests(result["index"]) == digests(expected)  # every partition once, the same bytes
    files = sorted(p.name for p in (tmp_path / "killed").iterdir())
    assert files == sorted([*digests(expected), "_partitions.json"])  # nothing doubled, no temporary file left
    for name in digests(expected):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "expected" / name).read_bytes()


def test_the_sample_command_draws_on_dask_and_names_an_unreachable_scheduler(tmp_path: Path, copula,
                                                                              dask_scheduler) -> None:  # fmt: skip
    from typer.testing import CliRunner

    from synthgov.cli.app import app

    model = copula.save(tmp_path / "m.synthgov")
    runner = CliRunner()
    args = ["sample", str(model), "-n", "3000", "--partition-rows", "1000", "--seed", "4"]
    on_dask = runner.invoke(app, [*args, "--out", str(tmp_path / "dask"), "--dask", dask_scheduler])
    assert on_dask.exit_code == 0, on_dask.output
    here = sample_partitioned(copula, 3000, tmp_path / "here", seed=4, partition_rows=1000)
    for name in digests(here):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    unreachable = runner.invoke(app, [*args, "--out", str(tmp_path / "no"), "--dask", "tcp://127.0.0.1:9"])
    assert unreachable.exit_code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in unreachable.output
    assert "Traceback" not in unreachable.output and not (tmp_path / "no").exists()
