"""A release written partition by partition, with one partition in memory at a time: ``synthgov generate DATA
--rows 10000000 --out DIR`` (above :data:`STREAM_ROWS` rows, or at any size with ``--partition-rows K`` or
``--dask ADDRESS``) writes ``DIR/synthetic/part-*.parquet`` instead of ``DIR/synthetic.parquet``, signed like any
release; with ``--dask`` the partitions after the first are drawn, marked and written by the cluster's workers.

Partition ``i`` is drawn with the seed stream ``(seed, i)`` of :mod:`synthgov.partitions` (the rows ``synthgov
sample MODEL --out DIR`` draws from the same model, seed and partition size), through the value rules, then marked
under one watermark plan: the plan (carriers, scales, category counts) is made from partition 0's unmarked rows;
every partition is embedded with its own stream of the plan's seeded draws and moves its part of the keyed
category shift; the detection evidence of the marked rows is summed as partitions are written
(:mod:`synthgov.watermark.evidence`), so the manifest's p-value is the whole release's, and the plan keeps the
category counts of all partitions before marking (the reference detection compares with). A partition whose mark
would not be detectable alone in partition 0 leaves the whole release unmarked, as for one file. Each file's
integrity record (sha256 of the bytes written, row-chunk Merkle tree) is made as it is written; the ledger's row
sketch and copy count and the value rules' violations are added partition by partition.

Measured on a part, and said so in the manifest: the exact copies and the closeness to the training rows (on the
first partition's rows). Refused with partitions, one line before fitting: ``--csv``, ``--evaluate``,
``--privacy-filter``, ``--fair``, ``--mode partial|hybrid``, per-row conditions, unique rules.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from synthgov.errors import InputError
from synthgov.pipeline.run import ReleaseOptions, ReleaseRun

logger = logging.getLogger(__name__)

STREAM_ROWS = 1_000_000  # releases of more rows are written in partitions
DATA_FOLDER = "synthetic"
MEASURED_ON = "the first partition's rows (a partitioned release is measured on a part: {rows:,} of {total:,} rows)"
REFUSED = {
    "csv": "--csv (a partitioned release is Parquet only)",
    "evaluate": "--evaluate (evaluate a release of at most 1,000,000 rows of the same model instead)",
    "privacy_filter": "--privacy-filter (it compares every released row with every training row)",
    "fair": "--fair (its group counts span the whole table)",
}


def wanted(options: ReleaseOptions) -> bool:
    """Whether the release is written in partitions: asked with ``partition_rows`` or ``dask``, or more than
    STREAM_ROWS rows."""
    asked = options.partition_rows is not None or options.dask is not None
    return options.out is not None and (asked or (options.rows or 0) > STREAM_ROWS)


def check(options: ReleaseOptions) -> None:
    """What a partitioned release cannot do, refused before any work (one line each)."""
    if options.dask is not None and options.out is None:
        raise InputError("--dask writes a release folder in partitions on the cluster's workers: add --out DIR")
    if options.partition_rows is not None:
        if options.out is None:
            raise InputError("--partition-rows writes a release folder in partitions: add --out DIR")
        if options.partition_rows < 1000:
            raise InputError(f"--partition-rows must be at least 1000, not {options.partition_rows}")
    if not wanted(options):
        return
    asked = [text for name, text in REFUSED.items() if getattr(options, name)]
    if options.mode != "full":
        asked.append(f"--mode {options.mode} (its real rows are read whole)")
    if options.conditions is not None and not isinstance(options.conditions, dict):
        asked.append("per-row conditions (give {column: value} for every row)")
    if asked:
        size = (
            f"--partition-rows {options.partition_rows:,}"
            if options.partition_rows is not None
            else f"{options.rows:,} rows (more than {STREAM_ROWS:,}: written in partitions)"
        )
        raise InputError(f"a partitioned release ({size}) cannot take {'; '.join(asked)}")


def check_rules(run: ReleaseRun) -> None:
    """A unique rule spans the whole table: refused with partitions (after the rules are read, before fitting)."""
    if wanted(run.options) and run.rules is not None and run.rules.unique_columns:
        columns = ", ".join(run.rules.unique_columns)
        raise InputError(f"a unique rule ({columns}) spans the whole table: it cannot be kept across partitions")


@dataclass
class PartitionWork:
    """What every partition's task needs (sent whole to each Dask worker): the model (or its file's bytes), the
    staging folder, the conditions and rules, the watermark plan and key (None: unmarked) and the ledger's sketch."""

    model: Any
    folder: str
    conditions: dict[str, Any] | None
    rules: list[Any] | None
    plan: Any
    secret: bytes | None
    carriers: list[str]
    first_rows: int
    sketch: Any


@dataclass
class PartitionDone:
    """What a partition's task hands back: its file's integrity record and its share of every sum."""

    index: int
    entry: dict[str, Any]
    counts: dict[str, dict[str, int]]  # unmarked category counts of the plan's columns
    evidence: Any  # the watermark evidence of its marked rows (None: unmarked)
    sketch: Any  # the ledger's row sketch of its rows
    violations: dict[str, int]
    drawn: dict[str, Any] | None  # what keeping the rules took (None: no rules)
    seconds: dict[str, float]


def release_partition(work: PartitionWork, part: Any, data: pd.DataFrame | None = None) -> PartitionDone:
    """Draw partition ``part`` (unless its unmarked rows are given), keep the rules, mark it under the plan, and
    write it with its integrity record. The same bytes wherever it runs: everything random comes from the
    partition's seed stream and the plan."""
    from synthgov import progress
    from synthgov.release.integrity import data_entry

    model = work.model
    if isinstance(model, bytes):
        from synthgov.partitions import model_from_bytes

        model = model_from_bytes(model)
    seconds = dict.fromkeys(("sample", "watermark", "check", "write"), 0.0)
    start = time.perf_counter()
    drawn = None
    rules = None
    if work.rules:
        from synthgov.constraints.value_rules import load_rules

        rules = load_rules(work.rules)
    if data is None:
        with progress.use_reporter(None):  # the partitions are reported, not each draw's own steps
            if rules is not None:
                from synthgov.constraints.enforcement import sample_satisfying

                data, drawn = sample_satisfying(model, part.rows, rules, seed=part.seed, conditions=work.conditions)
            else:
                data = model.sample(part.rows, seed=part.seed, conditions=work.conditions)
    seconds["sample"] = time.perf_counter() - start
    start = time.perf_counter()
    counts: dict[str, dict[str, int]] = {}
    evidence = None
    if work.plan is not None:
        data, counts, evidence = _mark(work, data, part.index)
    seconds["watermark"] = time.perf_counter() - start
    start = time.perf_counter()
    violations = {name: int(n) for name, n in rules.violations(data).items()} if rules is not None else {}
    sketch = work.sketch.empty()
    sketch.add(data)
    seconds["check"] = time.perf_counter() - start
    start = time.perf_counter()
    entry = _write(data, Path(work.folder) / part.name, data_entry)
    seconds["write"] = time.perf_counter() - start
    return PartitionDone(part.index, entry, counts, evidence, sketch, violations, drawn, seconds)


def _mark(work: PartitionWork, data: pd.DataFrame, index: int) -> tuple[pd.DataFrame, dict, Any]:
    """``data`` marked under the plan, with its unmarked category counts and the evidence of its marked rows."""
    from synthgov.watermark import embed
    from synthgov.watermark.category_shares import tally
    from synthgov.watermark.evidence import Evidence

    frame = data[work.carriers]
    counts = tally(frame, work.plan.category_counts)
    marked = embed(frame, work.plan, work.secret, chunk=index, scale=len(data) / work.first_rows)
    evidence = Evidence(work.plan, work.secret).add(marked)
    if work.carriers == list(data.columns):
        return marked, counts, evidence
    data = data.copy()
    for column in work.carriers:
        data[column] = marked[column]
    return data, counts, evidence


def _plan(run: ReleaseRun, first: pd.DataFrame) -> tuple[Any, bytes | None, list[str], dict[str, Any] | None]:
    """The watermark plan of the release, from its first partition's unmarked rows: ``(plan, secret, carriers,
    None)``, or ``(None, None, [], section)`` with the manifest's section of an unmarked release and why."""
    from synthgov.pipeline.marking import NO_CARRIER, carrier_columns, plan_for, unmarked
    from synthgov.watermark import embed
    from synthgov.watermark.detect import DETECTION_THRESHOLD, detect

    if not run.options.watermark:
        return None, None, [], None
    carriers = carrier_columns(run, list(first.columns))
    plan, secret = plan_for(run, first[carriers])
    if not plan.carriers and not plan.category_counts:
        return None, None, [], unmarked(plan, NO_CARRIER)
    trial = embed(first[carriers], plan, secret, chunk=0)
    found = detect(trial, [plan], secret, plan.key_id)
    if found.p_value > DETECTION_THRESHOLD:
        note = (
            f"not embedded: in the first partition's {len(first):,} rows the mark would not be detectable "
            f"(p = {found.p_value:.2g}, threshold {DETECTION_THRESHOLD:g})"
        )
        return None, None, [], unmarked(plan, note)
    return plan, secret, carriers, None


def _finish_plan(plan: Any, done: list[PartitionDone]) -> dict[str, Any]:
    """The plan completed (every partition's category counts before marking, the mean signed vote) and saved in
    the issuer's registry; the manifest's watermark section with the whole release's p-value."""
    import numpy as np

    from synthgov.pipeline.marking import marked_section
    from synthgov.watermark import registry
    from synthgov.watermark.category_shares import add_tallies

    counts: dict[str, dict[str, int]] = {}
    evidence = done[0].evidence
    for result in done:
        add_tallies(counts, result.counts)
        if result is not done[0]:
            evidence.merge(result.evidence)
    plan.category_counts = {column: counts.get(column, {}) for column in plan.category_counts}
    plan.coherence = evidence.signed_vote()
    p_value = float(min(1.0, np.exp(evidence.result()["log_p"])))
    registry.save(plan)
    return marked_section(plan, p_value)


def write_partitions(run: ReleaseRun) -> None:
    """Draw, check, mark, write and account for the release partition by partition (see the module docstring):
    the first here (it makes the watermark plan), the others here one after another or on Dask workers; their
    sums are added in partition order, so the manifest is the same with any number of workers."""
    from synthgov import partitions, progress
    from synthgov.pipeline.value_rules import draw, merged
    from synthgov.release.ledger import RowSketch

    options = run.options
    default = len(run.table) if run.table is not None else (run.model.spec_.rows or 1000)
    rows = options.rows or default
    size = options.partition_rows or partitions.DEFAULT_PARTITION_ROWS
    parts = partitions.plan(rows, int(run.model.seed_), size)
    folder = run.folder / DATA_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    where = f" on Dask ({options.dask})" if options.dask else ""
    with progress.step(f"generate: {rows:,} rows in {len(parts)} partitions{where}", total=rows) as advance:
        start = time.perf_counter()
        with progress.use_reporter(None):
            first = draw(run, parts[0].rows, parts[0].seed, options.conditions)
        drawn, start = time.perf_counter() - start, time.perf_counter()
        plan, secret, carriers, section = _plan(run, first)
        planned = time.perf_counter() - start
        work = PartitionWork(
            run.model, str(folder), options.conditions, run.rules.entries if run.rules is not None else None,
            plan, secret, carriers, parts[0].rows, RowSketch(rows, run.table, list(first.columns)),
        )  # fmt: skip
        done = [release_partition(work, parts[0], first)]
        done[0].seconds["sample"] += drawn
        done[0].seconds["watermark"] += planned  # the plan and its trial on the first partition
        done[0].drawn = run.rules_drawn  # already the run's (drawn through the run)
        _measure_first(run, pd.read_parquet(folder / parts[0].name), rows)
        advance(parts[0].rows)
        if options.dask:
            done += _on_dask(run, work, parts[1:], advance)
        else:
            for part in parts[1:]:
                done.append(release_partition(work, part))
                advance(part.rows)
    done.sort(key=lambda result: result.index)
    run.marking = _finish_plan(plan, done) if plan is not None else section
    sketch = done[0].sketch
    violations: dict[str, int] = {}
    seconds = dict.fromkeys(done[0].seconds, 0.0)
    for result in done:
        if result is not done[0]:
            sketch.merge(result.sketch)
        for name, count in result.violations.items():
            violations[name] = violations.get(name, 0) + count
        if result.drawn is not None and result is not done[0]:
            run.rules_drawn = merged(run.rules_drawn, result.drawn) if run.rules_drawn else result.drawn
        for name, value in result.seconds.items():
            seconds[name] += value
    _finish_files(run, parts, folder)
    run.data_entries = [result.entry for result in done]
    run.sketch = sketch
    run.released_rows = rows
    run.rule_violations = violations if run.rules is not None else None
    run.partitions = {
        "folder": f"{DATA_FOLDER}/",
        "count": len(parts),
        "partition_rows": size,
        "seed_streams": "numpy SeedSequence([seed, partition index]), as `synthgov sample --out`",
        "watermark": "one plan from the first partition's rows; evidence summed over every partition",
        "workers": f"Dask ({options.dask})" if options.dask else "this process",
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
        "seconds_method": "time.perf_counter around each step, summed over the partitions (on Dask: over the "
        "workers' tasks): sample (draws and value rules), watermark (the plan and its trial on the first partition, "
        "embedding and its evidence), check (rules, "
        "ledger sketch), write (Parquet bytes, sha256, row-chunk digests)",
    }
    logger.info("wrote %d rows in %d partitions to %s", rows, len(parts), folder)


def _finish_files(run: ReleaseRun, parts: list[Any], folder: Path) -> None:
    run.files = [folder / part.name for part in parts]
    schema = getattr(run.model, "schema_", None)
    if schema is not None:
        run.files.append(schema.save(run.folder / "schema.yaml"))
    if run.options.save_model:
        run.files.append(run.model.save(run.folder / "model.synthgov"))


def _on_dask(run: ReleaseRun, work: PartitionWork, parts: list[Any], advance: Any) -> list[PartitionDone]:
    """The partitions after the first on the workers of a Dask cluster (they write into the staging folder, which
    they must reach: this machine, or a shared file system). The workers receive the model's bytes and the
    watermark key (a remote cluster's workers must be trusted with it)."""
    import hashlib
    import tempfile

    from synthgov.dask_cluster import connect

    if not parts:
        return []
    client, cluster = connect(run.options.dask, run.options.workers)
    try:
        from distributed import as_completed

        with tempfile.TemporaryDirectory(prefix="synthgov-model-") as scratch:
            model_bytes = run.model.save(Path(scratch) / "model.synthgov").read_bytes()
        shared = client.scatter(replace(work, model=model_bytes), broadcast=True)
        token = hashlib.sha256(model_bytes + work.folder.encode() + run.release_id.encode()).hexdigest()[:16]
        futures = [client.submit(release_partition, shared, part, key=f"synthgov-release-{token}-{part.index}")
                   for part in parts]  # fmt: skip
        rows = {part.index: part.rows for part in parts}
        done = []
        for future in as_completed(futures):
            result = future.result()
            done.append(result)
            advance(rows[result.index])
            future.release()
        return done
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _measure_first(run: ReleaseRun, data: pd.DataFrame, total: int) -> None:
    """Copies and closeness to the training rows, measured on the first partition (and said so)."""
    from synthgov.pipeline.copies import measure_copies

    if run.budget is not None or run.table is None:
        from synthgov.pipeline.privacy import NOT_MEASURED

        run.copies = {"measured": False, "note": NOT_MEASURED} if run.budget is not None else None
        return
    run.copies = measure_copies(run.table, data, run.options.holdout, run.model.schema_, run.options.seed)
    run.copies["measured_on"] = MEASURED_ON.format(rows=len(data), total=total)


def _write(data: pd.DataFrame, path: Any, data_entry: Any) -> dict[str, Any]:
    """Write one partition (the staging folder is private to this run) and its integrity record, hashed as written."""
    import hashlib

    buffer = io.BytesIO()
    data.to_parquet(buffer, index=False)
    payload = buffer.getvalue()
    path.write_bytes(payload)
    # the row-chunk digests of the rows as a reader gets them back from the bytes (what verify recomputes)
    written = pd.read_parquet(io.BytesIO(payload))
    name = f"{DATA_FOLDER}/{path.name}"
    return data_entry(path, written, name=name, sha256=hashlib.sha256(payload).hexdigest())
