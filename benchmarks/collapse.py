"""Benchmark: the model-collapse laboratory on Adult, timed, with the drift of each regime.

    python benchmarks/collapse.py          # copula, 10 generations, replace (the 2-minute target)
    python benchmarks/collapse.py --regimes replace accumulate fresh --out docs/collapse/copula
    python benchmarks/collapse.py --generator autoregressive --rows 16000 --regimes replace accumulate

Prints wall time, CPU time and peak memory of the whole run (fit, sample and the metric card of every
generation) and, per regime, the change from generation 1 to the last of each headline metric.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "adult"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="copula")
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--regimes", nargs="+", default=["replace"])
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write collapse.json / .csv / .html here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import pandas as pd

    from synthgov.collapse.laboratory import run_collapse

    if (DATA / "train.csv").exists():
        real, test = pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "test.csv")
    else:
        from synthgov import load_demo

        real, test = load_demo("adult", "train"), load_demo("adult", "test")
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_collapse(
        real,
        generators=args.generator,
        regimes=args.regimes,
        generations=args.generations,
        rows=args.rows,
        test=test,
        target="income",
        seed=args.seed,
        out=args.out,
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.generator}, {args.generations} generations x {len(args.regimes)} regime(s), "
        f"{result.config['rows']:,} rows: {wall:.1f} s wall, {cpu:.1f} s CPU, peak {peak:.0f} MiB"
    )
    metrics = ["column_shapes", "column_pair_trends", "tail_mass_ratio", "variance_ratio", "categories_died"]
    metrics += ["rare_category_coverage", "detection_auc", "tstr_auc"]
    frame = result.frame()
    print("| regime | verdict | " + " | ".join(metrics) + " |")
    print("|---|---|" + "---|" * len(metrics))
    for v in result.verdicts:
        part = frame[frame.regime == v["regime"]].set_index("generation")
        first, last = part.iloc[0], part.iloc[-1]
        cells = [_change(first[m], last[m], m) for m in metrics]
        print(f"| {v['regime']} | {v['verdict']} | " + " | ".join(cells) + " |")
    sys.stdout.flush()


def _change(first: float, last: float, metric: str) -> str:
    return f"{first} -> {last}" if metric == "categories_died" else f"{first:.3f} -> {last:.3f}"


if __name__ == "__main__":
    main()
