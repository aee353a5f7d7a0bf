"""Where a synthetic Adult table loses train-on-synthetic AUC: the AUC of gradient boosting trained on each
table with one feature set at a time, and the rate of ``income = >50K`` within bins of the numbers that carry
most of the signal, for the real training rows and each synthetic table.

    python benchmarks/tstr_diagnosis.py synthetic_a.parquet synthetic_b.csv ...

(found that way, docs/generators.md: CTGAN keeps the share of positive capital gains but loses who has them.)
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import tstr_auc
from run import _load

TARGET, POSITIVE = "income", ">50K"
FEATURE_SETS = {
    "all": None,
    "capital-gain": ["capital-gain"],
    "capital-loss": ["capital-loss"],
    "age": ["age"],
    "education-num": ["education-num"],
    "relationship": ["relationship"],
    "occupation": ["occupation"],
    "hours-per-week": ["hours-per-week"],
    "relationship, education-num, capital-gain": ["relationship", "education-num", "capital-gain"],
    "all but capital-gain/loss": "no-capital",
}
BINS = {
    "capital-gain": [-1, 0, 3000, 7000, float("inf")],
    "capital-loss": [-1, 0, 1500, 2000, float("inf")],
    "age": [0, 25, 35, 45, 55, 65, 120],
    "hours-per-week": [0, 35, 40, 45, 60, 200],
    "education-num": [0, 8, 9, 10, 12, 13, 14, 20],
}


def _read(path: str) -> pd.DataFrame:
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def _columns(real: pd.DataFrame, chosen) -> list[str]:
    features = [c for c in real.columns if c != TARGET]
    if chosen is None:
        return features
    if chosen == "no-capital":
        return [c for c in features if c not in ("capital-gain", "capital-loss")]
    return list(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("synthetic", nargs="+", help="synthetic Adult tables (.parquet or .csv)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    real, test = _load()
    tables = {"real": real} | {Path(p).name: _read(p) for p in args.synthetic}
    width = max(len(k) for k in FEATURE_SETS)
    names = list(tables)
    print("train-on-synthetic AUC on test.csv, by feature set\n")
    print("| features".ljust(width + 2), "|", " | ".join(names), "|")
    print("|" + "-" * (width + 1), "|", " | ".join("---" for _ in names), "|")
    for label, chosen in FEATURE_SETS.items():
        cols = [*_columns(real, chosen), TARGET]
        values = [tstr_auc(t[cols], test[cols], TARGET, POSITIVE) for t in tables.values()]
        print(f"| {label}".ljust(width + 2), "|", " | ".join(f"{v:.4f}" for v in values), "|")
    print(f"\nshare of {TARGET} = {POSITIVE} within bins (share of rows in the bin)\n")
    for column, edges in BINS.items():
        bins = pd.cut(real[column], edges).cat.categories
        print(f"| {column} |", " | ".join(str(b) for b in bins), "|")
        print("|---|", " | ".join("---" for _ in bins), "|")
        for name, table in tables.items():
            binned = pd.cut(table[column], edges)
            rate = (table[TARGET] == POSITIVE).groupby(binned, observed=False).mean().reindex(bins)
            share = binned.value_counts(normalize=True).reindex(bins)
            print(f"| {name} |", " | ".join(f"{r:.3f} ({s:.3f})" for r, s in zip(rate, share, strict=True)), "|")
        print()


if __name__ == "__main__":
    main()
