"""Benchmark: a large release written partition by partition, then verified and detected (issue 23, item 2).

    python benchmarks/partitioned_release.py                    # 10,000,000 rows of copula (about 15 minutes)
    python benchmarks/partitioned_release.py --rows 2000000 --generator bayesnet
    python benchmarks/partitioned_release.py --memory-limit 1024  # each step under a 1 GiB address-space cap
    python benchmarks/partitioned_release.py --dask local        # the partitions on a 2-worker LocalCluster

Fits the generator on the shipped Adult table (32,561 rows x 15 columns), then runs ``synthgov generate ... --rows N
--out DIR`` (partitions of 250,000 rows: signed, watermarked, ledger entry), ``synthgov verify DIR`` and ``synthgov
detect DIR``, each in a fresh process so that its peak resident memory (``getrusage``) is its own. Prints wall time,
rows per second, peak RSS, and the release's own time split (the manifest's ``partitions.seconds``: sampling,
watermark, checks, writing). ``--memory-limit`` runs each step under ``ulimit -v`` (virtual memory, MiB): a step
that needs more fails instead of swapping.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "datasets" / "adult" / "train.csv"

CHILD = """
import json, resource, sys, time
from pathlib import Path
step, source, folder, rows, generator = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
dask = sys.argv[6] or None
start = time.perf_counter()
result = {}
if step == "generate":
    from synthgov.pipeline import generate
    done = generate(source, generator=generator, rows=rows, seed=1, out=folder, dask=dask, workers=2)
    predicate = done.manifest["statement"]["predicate"]
    result = {"partitions": predicate["partitions"], "stages": predicate["compute"]["stages"],
              "p_value": predicate["watermark"].get("p_value_at_release")}
elif step == "verify":
    from synthgov.release.verify import verify_release
    check = verify_release(folder)
    result = {"valid": check.valid, "problems": check.problems[:3]}
elif step == "detect":
    from synthgov.release.keys import Keystore, watermark_key_id
    from synthgov.table.io import read_chunks, release_data
    from synthgov.watermark import registry
    from synthgov.watermark.detect import detect_chunks
    secret = Keystore.default().watermark_secret()
    key = watermark_key_id(secret)
    found = detect_chunks(read_chunks(release_data(folder)), registry.plans_for(key), secret, key)
    result = {"p_value": found.p_value, "rows": found.rows}
result["seconds"] = time.perf_counter() - start
result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(result))
"""


def run_step(step: str, source: Path, folder: Path, args: argparse.Namespace, env: dict) -> dict:
    limit = args.memory_limit
    command = [
        sys.executable,
        "-c",
        CHILD,
        step,
        str(source),
        str(folder),
        str(args.rows),
        args.generator,
        args.dask or "",
    ]
    if limit is not None:  # the address-space cap of the child alone
        command = ["bash", "-c", f'ulimit -v {limit * 1024} && exec "$@"', "bash", *command]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"failed": " | ".join(tail)}
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--generator", default="copula")
    parser.add_argument("--memory-limit", type=int, help="MiB of virtual memory for each step (ulimit -v)")
    parser.add_argument("--dask", help="generate on Dask: 'local' (a LocalCluster of 2 workers) or an address")
    parser.add_argument("--keep", type=Path, help="write the release here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="synthgov-bench-"))
    env = {**os.environ, "SYNTHGOV_HOME": str(scratch / "home")}
    folder = args.keep or scratch / "release"
    if folder.exists():
        shutil.rmtree(folder)
    source = DATA if DATA.exists() else None
    if source is None:
        from synthgov import load_demo

        source = scratch / "adult.csv"
        load_demo("adult", "train").to_csv(source, index=False)
    results = {}
    try:
        for step in ("generate", "verify", "detect"):
            began = time.perf_counter()
            results[step] = run_step(step, source, folder, args, env)
            results[step].setdefault("seconds", time.perf_counter() - began)
            print(f"{step}: {json.dumps(results[step])[:300]}", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print_table(args, results)


def print_table(args: argparse.Namespace, results: dict) -> None:
    limit = f", ulimit -v {args.memory_limit:,} MiB" if args.memory_limit else ""
    limit += f", generated on Dask ({args.dask}, 2 workers: the peak RSS is the caller's)" if args.dask else ""
    print(f"\n{args.rows:,} rows of {args.generator} (Adult, 15 columns, 250,000-row partitions{limit})\n")
    print("| step | seconds | rows/s | peak RSS MiB | result |")
    print("|---|---|---|---|---|")
    for step, result in results.items():
        if "failed" in result:
            print(f"| {step} | - | - | - | failed: {result['failed'][:120]} |")
            continue
        seconds = result["seconds"]
        if step == "generate":
            seconds = result["stages"]["stream"]["wall_seconds"]  # the release's rows, fit and signing apart
            mark = f"p = {result['p_value']:.1e}" if result.get("p_value") is not None else "unmarked"
            note = f"{mark}; whole command {result['seconds']:.1f} s (fit, signing, ledger included)"
        elif step == "verify":
            note = "valid" if result["valid"] else f"INVALID: {result['problems']}"
        else:
            note = f"p = {result['p_value']:.1e} over {result['rows']:,} rows"
        print(f"| {step} | {seconds:.1f} | {args.rows / seconds:,.0f} | {result['peak_mib']:,.0f} | {note} |")
    generate = results.get("generate", {})
    if "partitions" in generate:
        split = generate["partitions"]["seconds"]
        total = sum(split.values())
        print("\nwhere the release's time goes (manifest partitions.seconds): " + ", ".join(
            f"{name} {value:.1f} s ({100 * value / total:.0f}%)" for name, value in split.items()))  # fmt: skip
        stages = generate["stages"]
        print(
            "other stages: " + ", ".join(f"{k} {v['wall_seconds']:.1f} s" for k, v in stages.items() if k != "stream")
        )


if __name__ == "__main__":
    main()
