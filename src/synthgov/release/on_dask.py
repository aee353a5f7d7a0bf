"""``synthgov detect DIR --dask ADDRESS`` and ``synthgov verify RELEASE --dask ADDRESS``: the per-partition work of
detection and verification on the workers of a Dask cluster, reduced here in partition order, so the answer is
the one a single process gives (the same sums, added in the same order).

Detection: each task reads one partition and returns its watermark evidence for every plan
(:class:`synthgov.watermark.evidence.Evidence`); verification: each task checks one data file's digest, Merkle root
and row chunks (:func:`synthgov.release.verify.check_data_file`) and, for the watermark, returns the evidence of its
rows. The workers read the files (they must reach them: this machine or a shared file system) and receive the
watermark key for the evidence (run a remote cluster's workers where you would keep the key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def evidence_of_file(path: str, plans: list[Any], secret: bytes) -> tuple[int, list[Any]]:
    """The rows of the table at ``path`` (read in parts) and its evidence for each plan (a Dask task)."""
    from synthgov.table.io import read_chunks
    from synthgov.watermark.evidence import Evidence

    evidence = [Evidence(plan, secret) for plan in plans]
    rows = 0
    for chunk in read_chunks(Path(path)):
        rows += len(chunk)
        for one in evidence:
            one.add(chunk)
    return rows, evidence


def map_in_order(address: str, workers: int, task: Callable, items: Iterable[Any], *shared: Any) -> list[Any]:
    """``[task(item, *shared) for item in items]`` on a Dask cluster, in the items' order (``shared`` is sent to
    every worker once)."""
    from synthgov.dask_cluster import connect

    items = list(items)
    client, cluster = connect(address, workers)
    try:
        sent = [client.scatter(value, broadcast=True) for value in shared]
        futures = [client.submit(task, item, *sent, pure=False) for item in items]
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def detect_files(paths: list[Path], plans: list[Any], secret: bytes, key_id: str | None, address: str,
                 workers: int = 2) -> Any:  # fmt: skip
    """:func:`synthgov.watermark.detect.detect_chunks` of the table made of ``paths`` (in this order), with each
    file's evidence gathered on a Dask worker."""
    from synthgov.watermark.detect import decide

    per_file = map_in_order(address, workers, evidence_of_file, [str(p) for p in paths], plans, secret)
    totals = per_file[0][1] if per_file else []
    for _, evidence in per_file[1:]:
        for total, more in zip(totals, evidence, strict=True):
            total.merge(more)
    return decide(totals, key_id, sum(rows for rows, _ in per_file))
