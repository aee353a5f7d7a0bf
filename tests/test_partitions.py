"""Sampling into a partitioned Parquet dataset (``synthgov sample MODEL -n N --out DIR``), on this process: the
partition plan, the seed streams, the files and their index, checked against the model's own sampling."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthgov import synthesizer
from synthgov.cli.app import app
from synthgov.errors import InputError
from synthgov.partitions import partition_seed, plan, sample_partitioned


@pytest.fixture(scope="module")
def copula(adult: pd.DataFrame):
    return synthesizer("copula", seed=5).fit(adult.head(4000))


def test_plan_cuts_rows_into_equal_partitions_but_the_last() -> None:
    parts = plan(1_000_003, seed=1, partition_rows=250_000)
    assert [p.rows for p in parts] == [250_000, 250_000, 250_000, 250_000, 3]
    assert [p.name for p in parts][:2] == ["part-00000.parquet", "part-00001.parquet"]
    assert [p.rows for p in plan(500, 1, 250)] == [250, 250]
    assert len({p.seed for p in plan(10_000, seed=1, partition_rows=10)}) == 1000  # 1,000 distinct streams


def test_a_partition_seed_depends_on_the_seed_and_its_index_only() -> None:
    # partition 3 draws the same stream whatever the row count (so a longer draw extends a shorter one)
    assert plan(40, 7, 10)[3].seed == plan(1000, 7, 10)[3].seed == partition_seed(7, 3)
    assert partition_seed(7, 3) != partition_seed(8, 3) and partition_seed(7, 3) != partition_seed(7, 4)
    # numpy's SeedSequence keyed by (seed, index), computed here independently
    expected = int(np.random.SeedSequence([7, 3]).generate_state(1, dtype=np.uint32)[0])
    assert partition_seed(7, 3) == expected


def test_plan_refuses_no_rows_and_empty_partitions() -> None:
    with pytest.raises(InputError, match="at least 1"):
        plan(0, 1)
    with pytest.raises(InputError, match="at least one row"):
        plan(10, 1, 0)


def test_each_partition_is_the_models_own_draw_with_its_stream(tmp_path: Path, copula) -> None:
    folder = tmp_path / "synthetic"
    index = sample_partitioned(copula, 2_500, folder, seed=11, partition_rows=1_000)
    names = sorted(p.name for p in folder.glob("part-*.parquet"))
    assert names == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert not list(folder.glob(".*"))  # no temporary file left
    for part, entry in zip(plan(2_500, 11, 1_000), index["partitions"], strict=True):
        written = pd.read_parquet(folder / part.name)
        pd.testing.assert_frame_equal(written, copula.sample(part.rows, seed=part.seed), check_dtype=False)
        assert entry == {"file": part.name, "rows": part.rows, "seed": part.seed,
                         "sha256": hashlib.sha256((folder / part.name).read_bytes()).hexdigest()}  # fmt: skip
    assert json.loads((folder / "_partitions.json").read_text()) == index
    whole = pd.read_parquet(folder)  # pyarrow reads the folder as one dataset and skips _partitions.json
    assert len(whole) == 2_500 and list(whole.columns) == list(copula.schema_.names)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_rows(tmp_path: Path, copula) -> None:
    first = sample_partitioned(copula, 1_200, tmp_path / "a", seed=3, partition_rows=500)
    again = sample_partitioned(copula, 1_200, tmp_path / "b", seed=3, partition_rows=500)
    other = sample_partitioned(copula, 1_200, tmp_path / "c", seed=4, partition_rows=500)
    digests = [[e["sha256"] for e in i["partitions"]] for i in (first, again, other)]
    assert digests[0] == digests[1] and not set(digests[0]) & set(digests[2])


def test_conditions_hold_in_every_partition_and_bad_ones_fail_before_any_file(tmp_path: Path, copula) -> None:
    sample_partitioned(copula, 900, tmp_path / "women", seed=1, conditions={"sex": "Female"}, partition_rows=400)
    assert set(pd.read_parquet(tmp_path / "women")["sex"]) == {"Female"}
    with pytest.raises(InputError, match="unknown column"):
        sample_partitioned(copula, 900, tmp_path / "bad", seed=1, conditions={"nope": 1}, partition_rows=400)
    assert not (tmp_path / "bad").exists()


def test_a_non_empty_folder_is_refused(tmp_path: Path, copula) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        sample_partitioned(copula, 10, tmp_path / "taken")
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_the_sample_command_writes_a_folder_for_an_out_without_suffix(tmp_path: Path, copula) -> None:
    model = copula.save(tmp_path / "m.synthgov")
    runner = CliRunner()
    result = runner.invoke(app, ["sample", str(model), "-n", "1500", "--out", str(tmp_path / "ds"),
                                 "--partition-rows", "600", "--seed", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1,500 rows in 3 partition(s)" in result.output
    assert sorted(p.name for p in (tmp_path / "ds").glob("part-*")) == [f"part-0000{i}.parquet" for i in range(3)]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ds" / "part-00001.parquet"),
                                  copula.sample(600, seed=partition_seed(2, 1)), check_dtype=False)  # fmt: skip
    refused = runner.invoke(app, ["sample", str(model), "-n", "10", "--out", str(tmp_path / "f.parquet"),
                                  "--dask", "local"])  # fmt: skip
    assert refused.exit_code == 2 and "--dask writes a partitioned dataset" in refused.output
    bad = runner.invoke(app, ["sample", str(model), "-n", "10", "--out", str(tmp_path / "x"), "--partition-rows", "0"])
    assert bad.exit_code == 2 and "--partition-rows" in bad.output


def test_a_partitioned_folder_reads_as_one_table_in_partition_order(tmp_path: Path, copula) -> None:
    from synthgov.table.io import read_table

    sample_partitioned(copula, 1_300, tmp_path / "ds", seed=6, partition_rows=500)
    parts = [pd.read_parquet(tmp_path / "ds" / f"part-0000{i}.parquet") for i in range(3)]
    pd.testing.assert_frame_equal(read_table(tmp_path / "ds"), pd.concat(parts, ignore_index=True))
    (tmp_path / "empty").mkdir()
    parts[0].to_parquet(tmp_path / "empty" / "other.parquet")  # not a partition
    with pytest.raises(InputError, match="folder without Parquet files"):
        read_table(tmp_path / "empty")
    (tmp_path / "mixed").mkdir()
    parts[0].to_parquet(tmp_path / "mixed" / "part-00000.parquet")
    parts[1].drop(columns=["age"]).to_parquet(tmp_path / "mixed" / "part-00001.parquet")
    with pytest.raises(InputError, match=r"partitions of .* differ: part-00001\.parquet"):
        read_table(tmp_path / "mixed")
