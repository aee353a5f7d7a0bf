"""Benchmark: partitioned sampling on this process and on a Dask LocalCluster of one and two workers (issue 23).

    python benchmarks/dask_sampling.py                      # copula, 4,000,000 rows in partitions of 250,000
    python benchmarks/dask_sampling.py --rows 2000000 --generator bayesnet

A ``copula`` (or ``--generator``) fitted on Adult draws ``--rows`` rows into a partitioned Parquet dataset
(``synthgov.partitions.sample_partitioned``) three ways, in this order: this process alone, a LocalCluster of one
worker process, one of two. Each is timed from the call to the written index (the clusters are started first and
their start is not counted: ``--dask ADDRESS`` on a running cluster pays no start either); the dataset's
partitions must be byte-identical in the three runs (checked). Printed: seconds, rows per second, the ratio to one
worker, and the peak RSS of the calling process (the workers' memory is their own; a worker holds one partition).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "datasets" / "adult" / "train.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--partition-rows", type=int, default=250_000)
    parser.add_argument("--generator", default="copula")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import pandas as pd
    from distributed import Client, LocalCluster

    from synthgov import load_demo, synthesizer
    from synthgov.partitions import sample_partitioned

    real = pd.read_csv(DATA) if DATA.exists() else load_demo("adult", "train")
    model = synthesizer(args.generator, seed=args.seed).fit(real)
    scratch = Path(tempfile.mkdtemp(prefix="synthgov-dask-bench-"))
    rows: list[tuple[str, float, dict]] = []
    try:
        started = time.perf_counter()
        index = sample_partitioned(model, args.rows, scratch / "here", partition_rows=args.partition_rows)
        rows.append(("this process, no Dask", time.perf_counter() - started, index))
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
                client.wait_for_workers(workers)
                started = time.perf_counter()
                address = cluster.scheduler_address
                index = sample_partitioned(model, args.rows, scratch / f"dask{workers}",
                                           partition_rows=args.partition_rows, dask=address)  # fmt: skip
                rows.append((f"Dask LocalCluster, {workers} worker(s)", time.perf_counter() - started, index))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    digests = [[entry["sha256"] for entry in index["partitions"]] for _, _, index in rows]
    identical = all(d == digests[0] for d in digests)
    one_worker = next(seconds for name, seconds, _ in rows if "1 worker" in name)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parts = len(rows[0][2]["partitions"])
    print(f"\n{args.generator} on Adult, {args.rows:,} rows in {parts} partitions of {args.partition_rows:,}; "
          f"partitions byte-identical in every run: {'yes' if identical else 'NO'}; "
          f"peak RSS of this process {peak:.0f} MiB\n")  # fmt: skip
    print("| run | seconds | rows per s | speed-up over one worker |")
    print("|---|---|---|---|")
    for name, seconds, _ in rows:
        print(f"| {name} | {seconds:.1f} | {args.rows / seconds:,.0f} | {one_worker / seconds:.2f}x |")
    if not identical:
        raise SystemExit("the runs wrote different partitions")


if __name__ == "__main__":
    main()
