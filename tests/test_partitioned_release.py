"""A release written partition by partition (``synthgov generate ... --partition-rows K``, the default above a
million rows): signed, watermarked under one plan, verified and detected one partition at a time, each figure
checked against the same computation on the whole table in memory."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthgov.cli.app import app
from synthgov.errors import InputError
from synthgov.partitions import partition_seed
from synthgov.pipeline import generate
from synthgov.release.keys import Keystore, watermark_key_id
from synthgov.release.verify import verify_release
from synthgov.table.io import read_chunks, read_table
from synthgov.watermark import registry
from synthgov.watermark.detect import detect, detect_chunks
from synthgov.watermark.evidence import Evidence

ROWS, PART = 24_000, 8_000


@pytest.fixture(scope="module")
def release(adult: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("partitioned") / "release"
    with pytest.MonkeyPatch.context() as patch:  # the session's keystore, as conftest's per-test fixture sets
        patch.setenv("SYNTHGOV_HOME", str(tmp_path_factory.getbasetemp() / "synthgov-home"))
        return generate(adult.head(6000), generator="copula", rows=ROWS, seed=11, out=folder, partition_rows=PART)


def _parts(folder: Path) -> list[Path]:
    return sorted((folder / "synthetic").glob("part-*.parquet"))


def test_the_release_is_written_in_partitions_and_verifies(release) -> None:
    parts = _parts(release.folder)
    assert [len(pd.read_parquet(p)) for p in parts] == [PART, PART, PART]
    assert not (release.folder / "synthetic.parquet").exists() and release.data is None and release.rows == ROWS
    predicate = release.manifest["statement"]["predicate"]
    assert predicate["release"]["rows"] == ROWS
    files = predicate["integrity"]["files"]
    assert [f["path"] for f in files] == [f"synthetic/{p.name}" for p in parts]
    for entry, part in zip(files, parts, strict=True):  # digests of the bytes on disk, computed here
        assert entry["sha256"] == hashlib.sha256(part.read_bytes()).hexdigest()
    verification = verify_release(release.folder)
    assert verification.valid, verification.problems
    assert any(c.startswith("watermark: present") for c in verification.checks)


def test_each_partition_draws_its_seed_stream(release) -> None:
    # the columns the watermark does not carry are the model's own draw with the stream (seed, i)
    predicate = release.manifest["statement"]["predicate"]
    marked = set(predicate["watermark"]["carriers"]) | set(predicate["watermark"]["category_columns"])
    marked.add("education-num")  # follows education when the share shift relabels a row (a function of it)
    for index, part in enumerate(_parts(release.folder)):
        expected = release.model.sample(PART, seed=partition_seed(11, index))
        written = pd.read_parquet(part)
        kept = [c for c in written.columns if c not in marked]
        assert kept, "some columns carry no mark"
        pd.testing.assert_frame_equal(written[kept], expected[kept], check_dtype=False)


def test_the_signed_p_value_is_that_of_the_whole_table(release) -> None:
    predicate = release.manifest["statement"]["predicate"]
    secret = Keystore.default().watermark_secret()
    plans = [p for p in registry.plans_for(watermark_key_id(secret)) if p.id == predicate["watermark"]["plan_id"]]
    whole = pd.concat([pd.read_parquet(p) for p in _parts(release.folder)], ignore_index=True)
    in_memory = detect(whole, plans, secret, plans[0].key_id)
    assert predicate["watermark"]["p_value_at_release"] == pytest.approx(in_memory.p_value, rel=1e-6)
    assert in_memory.p_value < 1e-6 and in_memory.payload == plans[0].payload
    # and the plan's category reference is the partitions' unmarked counts: every released row with a value (the
    # shift moves rows between categories, never into or out of missing values)
    assert plans[0].category_counts
    for column, counts in plans[0].category_counts.items():
        assert sum(counts.values()) == whole[column].notna().sum()


def test_detection_in_chunks_equals_detection_in_memory(release) -> None:
    secret = Keystore.default().watermark_secret()
    plans = registry.plans_for(watermark_key_id(secret))
    whole = pd.concat([pd.read_parquet(p) for p in _parts(release.folder)], ignore_index=True)
    noisy = whole.assign(**{c: whole[c] + np.random.default_rng(0).normal(0, 1, len(whole))
                            for c in ("age", "hours-per-week")})  # fmt: skip
    for table in (whole, noisy, whole.iloc[:5000], whole.sample(frac=1.0, random_state=1)):
        one = detect(table, plans, secret, "k")
        pieces = detect_chunks((table.iloc[i : i + 3001] for i in range(0, len(table), 3001)), plans, secret, "k")
        assert pieces.p_value == pytest.approx(one.p_value, rel=1e-6, abs=1e-300)
        assert (pieces.payload, pieces.rows, pieces.contexts) == (one.payload, one.rows, one.contexts)
        assert pieces.bit_margins == pytest.approx(one.bit_margins, rel=1e-9)
    plan = plans[0]
    chunked = Evidence(plan, secret)
    for i in range(0, len(whole), 5000):
        chunked.add(whole.iloc[i : i + 5000])
    assert chunked.signed_vote() == pytest.approx(Evidence(plan, secret).add(whole).signed_vote(), rel=1e-9)


def test_detect_reads_a_partitioned_release(release) -> None:
    result = CliRunner().invoke(app, ["detect", str(release.folder), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["found"] and found["rows"] == ROWS
    signed = release.manifest["statement"]["predicate"]["watermark"]["p_value_at_release"]
    assert found["p_value"] == pytest.approx(signed, rel=1e-6)


def test_read_chunks_of_a_parquet_file_are_its_rows(tmp_path: Path, adult: pd.DataFrame) -> None:
    path = tmp_path / "t.parquet"
    adult.to_parquet(path, index=False, row_group_size=5000)
    chunks = list(read_chunks(path, chunk_rows=7000))
    assert len(chunks) > 1 and max(len(c) for c in chunks) <= 7000
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), read_table(path))


def test_the_same_seed_writes_the_same_bytes(adult: pd.DataFrame, tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        done = generate(adult.head(3000), generator="copula", rows=9000, seed=4, out=tmp_path / name,
                        partition_rows=3000)  # fmt: skip
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in _parts(done.folder)])
    assert digests[0] == digests[1] and len(set(digests[0])) == 3


def test_an_edited_partition_is_named_by_verify(adult: pd.DataFrame, tmp_path: Path) -> None:
    done = generate(adult.head(3000), generator="copula", rows=9000, seed=4, out=tmp_path / "r", partition_rows=3000)
    part = _parts(done.folder)[1]
    frame = pd.read_parquet(part)
    frame.loc[10, "age"] = frame.loc[10, "age"] + 1  # row 10 (chunk 0) of the second partition, written back
    frame.to_parquet(part, index=False)
    verification = verify_release(done.folder)
    assert not verification.valid
    assert any(p.startswith("synthetic/part-00001.parquet: sha256 differs") and "chunk 0" in p
               for p in verification.problems), verification.problems  # fmt: skip
    assert not any("part-00000" in p or "part-00002" in p for p in verification.problems)


def test_rules_hold_in_every_partition(adult: pd.DataFrame, tmp_path: Path) -> None:
    rules = [{"if": "relationship == 'Husband'", "then": "sex == 'Male'"}, "age >= 18"]
    done = generate(adult.head(3000), generator="copula", rows=9000, seed=2, out=tmp_path / "r", partition_rows=3000,
                    rules=rules)  # fmt: skip
    whole = pd.concat([pd.read_parquet(p) for p in _parts(done.folder)], ignore_index=True)
    assert not ((whole["relationship"] == "Husband") & (whole["sex"] != "Male")).any()
    assert (whole["age"] >= 18).all()
    section = done.manifest["statement"]["predicate"]["value_rules"]
    assert section["checked_rows"] == 9000
    assert [r["violations_released"] for r in section["rules"]] == [0, 0]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"csv": True}, "--csv"),
        ({"evaluate": True}, "--evaluate"),
        ({"privacy_filter": True}, "--privacy-filter"),
        ({"mode": "hybrid", "real_share": 0.3}, "--mode hybrid"),
        ({"rules": [{"unique": "age"}]}, "unique rule"),
        ({"partition_rows": 10}, "at least 1000"),
    ],
)
def test_what_partitions_cannot_do_is_refused_before_fitting(adult, tmp_path, options, named) -> None:
    options = {"partition_rows": 3000, **options}
    with pytest.raises(InputError, match=named):
        generate(adult.head(500), generator="copula", rows=6000, out=tmp_path / "r", **options)
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_the_command_line_writes_and_reports_partitions(adult: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "adult.csv"
    adult.head(2000).to_csv(source, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["generate", str(source), "-g", "copula", "-n", "5000", "--partition-rows", "2500",
                                 "--seed", "1", "-o", str(tmp_path / "r")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "5,000 synthetic rows" in result.output and "(2 partitions)" in result.output
    refused = runner.invoke(app, ["generate", str(source), "-g", "copula", "-n", "5000", "--partition-rows", "2500",
                                  "--csv", "-o", str(tmp_path / "s")])  # fmt: skip
    assert refused.exit_code == 2 and "cannot take --csv" in refused.output


def test_dask_workers_write_the_same_release(adult: pd.DataFrame, tmp_path: Path, dask_scheduler) -> None:
    # partitions drawn on no Dask, a one-worker LocalCluster and the two-worker cluster: the same bytes, and the
    # same signed figures (the sums are added in partition order whatever order the workers finish in)
    from conftest import wait_for_dask_workers

    wait_for_dask_workers(dask_scheduler, 2)
    runs = {}
    for name, dask, workers in (("here", None, 2), ("one", "local", 1), ("two", dask_scheduler, 2)):
        runs[name] = generate(adult.head(3000), generator="copula", rows=12_000, seed=6, out=tmp_path / name,
                              partition_rows=2000, dask=dask, workers=workers)  # fmt: skip
    files = {name: [p.read_bytes() for p in _parts(done.folder)] for name, done in runs.items()}
    assert len(files["here"]) == 6 and files["one"] == files["here"] == files["two"]
    marks = {name: done.manifest["statement"]["predicate"]["watermark"] for name, done in runs.items()}
    assert len({mark["p_value_at_release"] for mark in marks.values()}) == 1
    assert marks["here"]["p_value_at_release"] < 1e-6
    assert runs["two"].manifest["statement"]["predicate"]["partitions"]["workers"] == f"Dask ({dask_scheduler})"
    verification = verify_release(runs["two"].folder)
    assert verification.valid, verification.problems


def test_a_dask_worker_killed_mid_release_leaves_it_complete(adult: pd.DataFrame, tmp_path: Path,
                                                              dask_scheduler) -> None:  # fmt: skip
    import os
    import signal
    import threading
    import time

    from distributed import Client

    from conftest import wait_for_dask_workers

    wait_for_dask_workers(dask_scheduler, 2)
    table, count, size = adult.head(3000), 60, 1000
    expected = generate(table, generator="copula", rows=count * size, seed=9, out=tmp_path / "expected",
                        partition_rows=size)  # fmt: skip
    with Client(dask_scheduler, timeout=60) as client:
        workers = list(client.run(os.getpid).values())
    result: dict = {}

    def release() -> None:
        try:
            result["done"] = generate(table, generator="copula", rows=count * size, seed=9, out=tmp_path / "killed",
                                      partition_rows=size, dask=dask_scheduler)  # fmt: skip
        except BaseException as exc:  # reported by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=release)
    thread.start()
    deadline = time.monotonic() + 120

    def written() -> int:  # partitions in the staging folder beside the target
        return len(list(tmp_path.glob(".*/synthetic/part-*.parquet")))

    while written() < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    at_kill = written()
    os.kill(workers[0], signal.SIGKILL)
    thread.join(timeout=300)
    assert "error" not in result, result.get("error")
    assert 5 <= at_kill < count  # the kill happened mid-run
    names = sorted(p.name for p in (tmp_path / "killed" / "synthetic").iterdir())
    assert names == [p.name for p in _parts(expected.folder)]  # every partition once, nothing else
    for name in names:
        assert (tmp_path / "killed" / "synthetic" / name).read_bytes() == (
            expected.folder / "synthetic" / name
        ).read_bytes()
    verification = verify_release(tmp_path / "killed")
    assert verification.valid, verification.problems


def test_detect_and_verify_on_dask_answer_as_one_process(release, tmp_path: Path, dask_scheduler) -> None:
    import shutil

    from conftest import wait_for_dask_workers

    wait_for_dask_workers(dask_scheduler, 2)
    runner = CliRunner()
    here = json.loads(runner.invoke(app, ["detect", str(release.folder), "--json"]).output)
    there = runner.invoke(app, ["detect", str(release.folder), "--json", "--dask", dask_scheduler])
    assert there.exit_code == 0, there.output
    assert json.loads(there.output) == here  # the same sums, added in the same order: the same figures
    assert verify_release(release.folder, dask=dask_scheduler).checks == verify_release(release.folder).checks
    edited = tmp_path / "edited"
    shutil.copytree(release.folder, edited)
    part = edited / "synthetic" / "part-00002.parquet"
    frame = pd.read_parquet(part)
    frame.loc[7000, "hours-per-week"] = frame.loc[7000, "hours-per-week"] + 1  # row 7000: chunk 1
    frame.to_parquet(part, index=False)
    on_dask, alone = verify_release(edited, dask=dask_scheduler), verify_release(edited)
    assert not on_dask.valid and on_dask.problems == alone.problems
    assert any("part-00002.parquet: sha256 differs; altered: chunk 1 (rows 4096-8191)" in p for p in alone.problems)


def test_releases_above_a_million_rows_are_partitioned_by_default() -> None:
    from synthgov.pipeline.run import ReleaseOptions
    from synthgov.pipeline.streaming import STREAM_ROWS, wanted

    assert STREAM_ROWS == 1_000_000  # the README's figure
    assert wanted(ReleaseOptions(rows=1_000_001, out="r"))
    assert not wanted(ReleaseOptions(rows=1_000_000, out="r"))
    assert not wanted(ReleaseOptions(rows=5_000_000))  # rows handed over in memory: not written at all
    assert wanted(ReleaseOptions(rows=10, out="r", partition_rows=1000))
    assert wanted(ReleaseOptions(rows=10, out="r", dask="local"))


def test_the_guard_reads_a_partitioned_release_in_parts(release) -> None:
    from synthgov.governance.guard import inspect_chunks, inspect_table

    whole = pd.concat([pd.read_parquet(p) for p in _parts(release.folder)], ignore_index=True)
    in_memory = inspect_table(whole)
    in_parts = inspect_chunks(pd.read_parquet(p) for p in _parts(release.folder))
    assert in_memory.synthetic and in_parts.rows == in_memory.rows == ROWS
    assert [(e.kind, e.release_id) for e in in_parts.evidence] == [(e.kind, e.release_id) for e in in_memory.evidence]
    for part, whole_table in zip(in_parts.evidence, in_memory.evidence, strict=True):
        assert part.share == pytest.approx(whole_table.share, rel=1e-9)
        assert part.p_value == (None if whole_table.p_value is None else pytest.approx(whole_table.p_value, rel=1e-6))
    assert {e.kind for e in in_parts.evidence} == {"ledger-rows", "watermark"}
    result = CliRunner().invoke(app, ["guard", str(release.folder), "--json"])
    assert result.exit_code == 1, result.output
    kinds = {e["kind"] for e in json.loads(result.output)["evidence"]}
    assert kinds == {"manifest", "ledger-rows", "watermark"}  # the signed manifest beside synthetic/ counts too


def test_a_registry_job_above_a_million_rows_is_refused_evaluation_before_it_runs() -> None:
    pytest.importorskip("fastapi")
    from pydantic import ValidationError

    from synthgov.service.routers.jobs import JobRequest

    source = "0" * 64
    with pytest.raises(ValidationError, match="written in partitions"):
        JobRequest(source=source, rows=2_000_000)  # a job evaluates its release by default
    assert JobRequest(source=source, rows=2_000_000, evaluate=False).rows == 2_000_000
    assert JobRequest(source=source, rows=1_000_000).evaluate
