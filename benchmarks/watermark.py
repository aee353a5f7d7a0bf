"""The watermark on Adult for every generator: cost, detection, payload, attacks, re-synthesis; one table.

    python benchmarks/watermark.py                      # copula, bayesnet, autoregressive (defaults)
    python benchmarks/watermark.py --only ctgan tvae ddpm --epochs 30
    python benchmarks/watermark.py --keys 10000         # calibration over wrong keys (real and marked rows)

Cost = unmarked minus marked (same rows before embedding): SDMetrics-equal Column Shapes / Pair Trends
(synthgov.evaluation) and train-on-synthetic AUC (gradient boosting, test.csv, income). p-values from
synthgov.watermark.detect with the issuer's key and plan. Re-synthesis: synthgov copula and SDV's
GaussianCopula (when installed) fitted on the marked release, 32,561 rows sampled.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from run import _load  # noqa: E402


def attacks() -> dict:
    from test_watermark import ATTACKS, GAPS

    return {**ATTACKS, **GAPS}


def main() -> None:
    warnings.simplefilter("ignore")
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["copula", "bayesnet", "autoregressive"])
    parser.add_argument("--epochs", type=int, help="epochs for the neural generators (default: theirs)")
    parser.add_argument("--keys", type=int, default=0, help="also test this many wrong keys (calibration)")
    args = parser.parse_args()

    import synthgov
    from synthgov.evaluation.fidelity import quality_scores
    from synthgov.evaluation.prepare import load_tables
    from synthgov.watermark import detect, embed, make_plan
    from test_watermark import _tstr

    real, test = _load()
    secret = os.urandom(32)
    for name in args.only:
        params = {"epochs": args.epochs} if args.epochs and name in ("ctgan", "tvae", "ddpm", "autoregressive") else {}
        synthetic = synthgov.synthesizer(name, seed=0, **params).fit(real).sample(len(real), seed=1)
        plan = make_plan(synthetic, "wm:bench", plan_seed=name)
        start = time.perf_counter()
        marked = embed(synthetic, plan, secret)
        embed_s = time.perf_counter() - start
        before, after = quality_scores(load_tables(real, synthetic)), quality_scores(load_tables(real, marked))
        start = time.perf_counter()
        p_full = detect(marked, [plan], secret, "k").p_value
        detect_s = time.perf_counter() - start
        row = {
            "generator": name,
            "carriers": ", ".join(plan.carriers),
            "d_shapes": before["column_shapes"] - after["column_shapes"],
            "d_trends": before["column_pair_trends"] - after["column_pair_trends"],
            "d_auc": _tstr(synthetic, test) - _tstr(marked, test),
            "p_200": max(detect(marked.sample(200, random_state=i), [plan], secret, "k").p_value for i in range(5)),
            "payload_2000": all(
                detect(marked.sample(2000, random_state=i), [plan], secret, "k").payload == plan.payload
                for i in range(5)
            ),
            "p_full": p_full,
            "embed_s": embed_s,
            "detect_s": detect_s,
        }
        attacked = {"none": p_full}
        for label, attack in attacks().items():
            attacked[label] = detect(attack(marked), [plan], secret, "k").p_value
        again = synthgov.synthesizer("copula", seed=11).fit(marked).sample(len(marked), seed=12)
        attacked["re-synthesis: synthgov copula"] = detect(again, [plan], secret, "k").p_value
        try:
            from sdv.metadata import Metadata
            from sdv.single_table import GaussianCopulaSynthesizer

            sdv = GaussianCopulaSynthesizer(Metadata.detect_from_dataframes({"t": marked}))
            sdv.fit({"t": marked})
            resampled = sdv.sample(len(marked))
            resampled = resampled["t"] if isinstance(resampled, dict) else resampled
            attacked["re-synthesis: SDV GaussianCopula"] = detect(resampled, [plan], secret, "k").p_value
        except ImportError:
            pass
        print(f"\n## {name} (carriers: {row['carriers']})")
        print(f"change: Shapes {-row['d_shapes']:+.4f}, Trends {-row['d_trends']:+.4f}, AUC {-row['d_auc']:+.4f}")
        print(f"embed {embed_s:.2f} s, detect {detect_s:.2f} s on {len(marked):,} rows")
        print(f"p (worst of 5 x 200 rows) {row['p_200']:.1e}; payload exact from 5 x 2,000 rows: {row['payload_2000']}")
        print("| attack on the 32,561-row release | p-value |\n|---|---|")
        for label, p_value in attacked.items():
            print(f"| {label} | {p_value:.1e} |")
        if args.keys:
            rng = np.random.default_rng(0)
            for table_name, table in (("real Adult", real), ("marked release", marked)):
                p = np.array([detect(table, [plan], rng.bytes(32), "x").p_value for _ in range(args.keys)])
                print(
                    f"{args.keys:,} wrong keys on {table_name}: share p <= 1e-3: {(p <= 1e-3).mean():.2e}, "
                    f"share p <= 0.05: {(p <= 0.05).mean():.3f}, min p {p.min():.1e}"
                )


if __name__ == "__main__":
    main()
