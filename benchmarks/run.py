"""Benchmark: fit and sample every generator on Adult and print speed, memory and quality.

    python benchmarks/run.py                 # all synthgov generators (+ SDV GaussianCopula if installed)
    python benchmarks/run.py --only copula   # one generator
    python benchmarks/run.py --json out.json # also write the rows as JSON

Each generator runs in its own process, so peak memory (max RSS) is its own. Quality: SDMetrics'
QualityReport against the train set (Column Shapes, Column Pair Trends) and train-on-synthetic / test-on-real
ROC AUC of gradient boosting for `income` on `test.csv`. The rules generator has no real data: it is timed on
the shipped example spec at 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "datasets" / "adult"
sys.path.insert(0, str(HERE))


def _load() -> tuple:
    import pandas as pd

    if (DATA / "train.csv").exists():
        return pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "test.csv")
    from synthgov import load_demo

    return load_demo("adult", "train"), load_demo("adult", "test")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _judge(real, test, synthetic, schema) -> dict:
    from quality import quality_report, tstr_auc

    scores = quality_report(real, synthetic, schema)
    return {**scores, "auc": tstr_auc(synthetic, test, "income", ">50K")}


def run_synthgov(name: str, queue: mp.Queue) -> None:
    warnings.simplefilter("ignore")
    import synthgov

    if name == "rules":
        model = synthgov.synthesizer("rules", spec=str(ROOT / "examples" / "customers.yaml"), seed=0)
        start = time.perf_counter()
        model.fit()
        fit = time.perf_counter() - start
        start = time.perf_counter()
        data = model.sample(1_000_000)
        queue.put(
            {
                "generator": "rules (1M rows, example spec)",
                "fit_s": fit,
                "sample_s": time.perf_counter() - start,
                "rows": len(data),
                "peak_mib": _peak_mib(),
            }
        )
        return
    real, test = _load()
    base = _peak_mib()
    start = time.perf_counter()
    model = synthgov.synthesizer(name, seed=0).fit(real)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = model.sample(len(real), seed=1)
    sample = time.perf_counter() - start
    peak = _peak_mib()
    queue.put(
        {
            "generator": name,
            "fit_s": fit,
            "sample_s": sample,
            "rows": len(synthetic),
            "peak_mib": peak,
            "peak_over_data_mib": peak - base,
            **_judge(real, test, synthetic, model.schema_),
        }
    )


def run_sdv_copula(queue: mp.Queue) -> None:
    warnings.simplefilter("ignore")
    try:
        from sdv.metadata import Metadata
        from sdv.single_table import GaussianCopulaSynthesizer
    except ImportError:
        queue.put(None)
        return
    import synthgov

    real, test = _load()
    base = _peak_mib()
    metadata = Metadata.detect_from_dataframes({"adult": real})
    start = time.perf_counter()
    model = GaussianCopulaSynthesizer(metadata)
    model.fit({"adult": real})  # SDV 2.0 takes a {table name: DataFrame} mapping
    fit = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = model.sample(len(real))
    if isinstance(synthetic, dict):
        synthetic = synthetic["adult"]
    sample = time.perf_counter() - start
    peak = _peak_mib()
    schema = synthgov.infer_schema(real)
    queue.put(
        {
            "generator": "SDV GaussianCopula",
            "fit_s": fit,
            "sample_s": sample,
            "rows": len(synthetic),
            "peak_mib": peak,
            "peak_over_data_mib": peak - base,
            **_judge(real, test, synthetic, schema),
        }
    )


def _in_process(target, *args) -> dict | None:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    import queue as queues

    while True:
        try:
            result = queue.get(timeout=5)
            break
        except queues.Empty:
            if not proc.is_alive():
                print(f"({getattr(target, '__name__', target)} {' '.join(map(str, args))} failed; see above)")
                return None
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="generators to run (default: all)")
    parser.add_argument("--no-peers", action="store_true", help="skip SDV even when installed")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    from synthgov.generators import registry

    names = args.only or list(registry.available())
    rows = [_in_process(run_synthgov, name) for name in names]
    if not args.no_peers and not args.only:
        import importlib.util

        peer = _in_process(run_sdv_copula) if importlib.util.find_spec("sdv") else None
        if peer is None:
            print("(SDV GaussianCopula not run: pip install -e '.[bench]' to compare with it)")
        else:
            rows.append(peer)
    rows = [r for r in rows if r]
    header = ["generator", "fit s", "sample s", "peak RSS MiB", "Shapes", "Trends", "AUC"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        cells = [r["generator"], f"{r['fit_s']:.2f}", f"{r['sample_s']:.2f}", f"{r['peak_mib']:.0f}"]
        cells += [f"{r[k]:.3f}" if k in r else "" for k in ("shapes", "trends", "auc")]
        print("| " + " | ".join(cells) + " |")
    sdv = next((r for r in rows if r["generator"].startswith("SDV")), None)
    ours = next((r for r in rows if r["generator"] == "copula"), None)
    if sdv and ours:
        print(
            f"\ncopula vs SDV GaussianCopula: fit {sdv['fit_s'] / ours['fit_s']:.0f}x faster, "
            f"Shapes {ours['shapes'] - sdv['shapes']:+.3f}, Trends {ours['trends'] - sdv['trends']:+.3f}, "
            f"AUC {ours['auc'] - sdv['auc']:+.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
