"""Sampling a saved model into a partitioned Parquet dataset, in bounded memory, on this process or on the
workers of a Dask cluster (``synthgov sample MODEL -n ROWS --out DIR [--dask local|tcp://...]``).

The rows are cut into partitions of ``partition_rows`` (the last one shorter). Partition ``i`` is drawn with its
own seed, derived from ``(seed, i)`` by numpy's ``SeedSequence``, and written to ``DIR/part-{i:05d}.parquet``;
so the dataset depends only on the model, the seed, the row count and the partition size: the same bytes
whether one process draws every partition in turn or any number of Dask workers draw them in any order. Only one
partition is in a process's memory at a time. A partition's file is written beside its final name and renamed
into place, so a task that Dask runs again after its worker died rewrites the same bytes; nothing is lost or
doubled. ``DIR/_partitions.json`` lists each partition's rows, seed and SHA-256 (readers such as
``pandas.read_parquet(DIR)`` skip names that start with ``_``). With Dask, the workers read the model from its
bytes (sent by the client) and write into ``DIR``, which they must reach (this machine, or a shared file
system).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgov import progress
from synthgov.atomic import replacing
from synthgov.errors import InputError

logger = logging.getLogger(__name__)

DEFAULT_PARTITION_ROWS = 250_000
INDEX_NAME = "_partitions.json"
PART_NAME = "part-{:05d}.parquet"


@dataclass(frozen=True)
class Partition:
    index: int
    rows: int
    seed: int

    @property
    def name(self) -> str:
        return PART_NAME.format(self.index)


def partition_seed(seed: int, index: int) -> int:
    """The seed of partition ``index``: an independent stream of numpy's SeedSequence keyed by (seed, index)."""
    import numpy as np

    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


def plan(rows: int, seed: int, partition_rows: int = DEFAULT_PARTITION_ROWS) -> list[Partition]:
    """The partitions of ``rows`` rows: every one ``partition_rows`` long but the last."""
    if rows < 1:
        raise InputError(f"rows must be at least 1, not {rows}")
    if partition_rows < 1:
        raise InputError(f"a partition must hold at least one row, not {partition_rows}")
    count = math.ceil(rows / partition_rows)
    return [Partition(i, min(partition_rows, rows - i * partition_rows), partition_seed(seed, i)) for i in range(count)]


def model_from_bytes(model_bytes: bytes) -> Any:
    """A fitted synthesizer from its model file's bytes (what a Dask task receives): JSON and npz, no pickle."""
    from synthgov.generators.base import Synthesizer

    with tempfile.TemporaryDirectory(prefix="synthgov-model-") as folder:
        path = Path(folder) / "model.synthgov"
        path.write_bytes(model_bytes)
        return Synthesizer.load(path)


def write_partition(
    model: Any, part: Partition, folder: str | Path, conditions: Any = None, rules: list | None = None
) -> dict[str, Any]:
    """Draw one partition and write it to ``folder``; return its index entry. ``model``: a fitted synthesizer
    or a model file's bytes (what a Dask task receives); ``rules``: value rules entries every row satisfies."""
    if isinstance(model, bytes):
        model = model_from_bytes(model)
    folder = Path(folder)
    with progress.use_reporter(None):  # the caller reports partitions, not each one's own steps
        if rules:
            from synthgov.constraints.enforcement import sample_satisfying
            from synthgov.constraints.value_rules import load_rules

            data, _ = sample_satisfying(model, part.rows, load_rules(rules), seed=part.seed, conditions=conditions)
        else:
            data = model.sample(part.rows, seed=part.seed, conditions=conditions)
    buffer = io.BytesIO()
    data.to_parquet(buffer, index=False)
    payload = buffer.getvalue()  # hashed as written: the file is not read back
    with replacing(folder / part.name) as temporary:  # written beside and renamed over: never half a partition
        temporary.write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    return {"file": part.name, "rows": part.rows, "seed": part.seed, "sha256": digest}


def _prepare_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} exists and is not a folder")
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder} is not empty: give a new or empty folder for the partitioned dataset")
    folder.mkdir(parents=True, exist_ok=True)


def sample_partitioned(
    model: Any,
    rows: int,
    folder: str | Path,
    seed: int | None = None,
    conditions: Any = None,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    dask: str | None = None,
    workers: int = 2,
    rules: Any = None,
) -> dict[str, Any]:
    """Draw ``rows`` rows of a fitted ``model`` into the partitioned dataset ``folder`` (new or empty) and
    return its index (also written as ``folder/_partitions.json``). ``seed`` defaults to the model's seed.
    ``dask``: ``"local"`` (a LocalCluster of ``workers`` processes) or a scheduler's address; None draws here.
    ``rules``: value rules (a file, entries or a RuleSet) that every row satisfies (docs/governance.md)."""
    model._check_fitted()
    entries = None
    if rules is not None:
        from synthgov.constraints.value_rules import load_rules

        ruleset = load_rules(rules)
        ruleset.check_columns(list(model.schema_.names))
        if ruleset.unique_columns:
            raise InputError("a unique rule spans the whole table: draw it into one file, not partitions")
        entries = ruleset.entries
    seed = model.seed_ if seed is None else seed
    parts = plan(rows, seed, partition_rows)
    if conditions is not None and not isinstance(conditions, dict):
        raise InputError("a partitioned draw takes conditions as {column: value} for every row")
    if conditions:
        model.sample(1, seed=seed, conditions=conditions)  # a bad condition is one clear error, before any work
    folder = Path(folder).expanduser()
    entries_of_rules = entries
    if dask is None:
        _prepare_folder(folder)
        with progress.step(f"generate: {rows:,} rows in {len(parts)} partition(s)", total=rows) as advance:
            entries = []
            for part in parts:
                entries.append(write_partition(model, part, folder, conditions, rules=entries_of_rules))
                advance(part.rows)
    else:
        from synthgov.dask_cluster import connect

        client, cluster = connect(dask, workers)  # an unreachable scheduler fails before the folder is made
        try:
            _prepare_folder(folder)
            description = f"generate: {rows:,} rows in {len(parts)} partition(s) on Dask ({dask})"
            with progress.step(description, total=rows) as advance:
                entries = _on_dask(client, model, parts, folder, conditions, advance, entries_of_rules)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    for stale in folder.glob(".tmp-*-part-*"):  # a temporary file of a task whose worker died mid-write
        logger.info("removing %s, left by a task that was run again", stale.name)
        stale.unlink(missing_ok=True)
    entries.sort(key=lambda entry: entry["file"])
    index = {
        "generator": model.name,
        "rows": rows,
        "seed": seed,
        "partition_rows": partition_rows,
        "seed_streams": "numpy SeedSequence([seed, partition index])",
        "value_rules": entries_of_rules,
        "partitions": entries,
    }
    with replacing(folder / INDEX_NAME) as temporary:
        temporary.write_text(json.dumps(index, indent=2) + "\n")
    logger.info("wrote %d rows in %d partition(s) to %s", rows, len(parts), folder)
    return index


def _on_dask(client: Any, model: Any, parts: list[Partition], folder: Path, conditions: Any,
             advance: Any, rules: list | None = None) -> list[dict[str, Any]]:  # fmt: skip
    from distributed import as_completed

    with tempfile.TemporaryDirectory(prefix="synthgov-model-") as scratch:
        model_bytes = model.save(Path(scratch) / "model.synthgov").read_bytes()
    shared = client.scatter(model_bytes, broadcast=True)
    # a key per (model, folder, conditions, partition): Dask must never answer one run's task with another's
    run = hashlib.sha256(model_bytes + str(folder.resolve()).encode())
    run.update(json.dumps(conditions or {}, sort_keys=True, default=str).encode())
    run.update(json.dumps(rules or [], sort_keys=True, default=str).encode())
    token = run.hexdigest()[:16]
    futures = [
        client.submit(write_partition, shared, part, str(folder), conditions, rules,
                      key=f"synthgov-partition-{token}-{part.seed}-{part.index}-{part.rows}")
        for part in parts
    ]  # fmt: skip
    entries = []
    for future in as_completed(futures):
        entry = future.result()
        entries.append(entry)
        advance(entry["rows"])
        future.release()
    return entries
