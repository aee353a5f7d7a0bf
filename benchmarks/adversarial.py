"""Adversarial training data (issue 21, part 3) on Adult: a gradient-boosting model of income trained on
train.csv, attacked on test.csv (rows of the majority class, at most 2,000) by synthgov's constrained attack
under the ten value rules of examples/adult-rules.yaml, with sex, race, age and native-country immutable; then
retrained with the correctly labelled adversarial rows of training rows (2 rounds) and attacked again with a
fresh seed.

    python benchmarks/adversarial.py [--budgets 0.02,0.05,0.1] [--seeds 2]

Printed per budget (mean over seeds): attack success rate before and after retraining, its drop (target >= 50%),
clean ROC AUC before and after (target: loss <= 0.01), the share of adversarial rows that satisfy the schema, the
rules and the immutables when checked again (must be 100%), and what the same search finds when the rules and
immutables are not enforced: its success rate and the share of those rows that break them.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "adult"
RULES = ROOT / "examples" / "adult-rules.yaml"
IMMUTABLE = ("sex", "race", "age", "native-country")
logging.disable(logging.WARNING)


def unconstrained_share(train: pd.DataFrame, test: pd.DataFrame, budget: float, seed: int) -> tuple[float, float]:
    """The same search with no rules and no immutable column: success rate, and the share of its successful rows
    that break a rule or change an immutable column."""
    from synthgov.adversarial import harden
    from synthgov.adversarial.threat import threat_model
    from synthgov.constraints.value_rules import load_rules
    from synthgov.table.infer import infer_schema

    result = harden(train, "income", test=test, budget=budget, rounds=0, edge_cases=0, seed=seed)
    rows = result["adversarial"]
    kinds = {c.name: c.kind for c in infer_schema(train).columns}
    strict = threat_model(result["split"]["training"], kinds, "income", list(IMMUTABLE), budget, 1, load_rules(RULES))
    originals = result["split"]["test"].iloc[rows["_original_row"]]
    feasible = strict.feasible(rows.drop(columns=["_original_row"]), originals)
    return result["report"]["before"]["success_rate"], float(1 - feasible.mean()) if len(rows) else 0.0


def main() -> None:
    warnings.simplefilter("ignore")
    from synthgov.adversarial import harden

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="0.02,0.05,0.1")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    train = pd.read_csv(SHARED / "train.csv")
    test = pd.read_csv(SHARED / "test.csv")
    test["income"] = test["income"].astype(str).str.rstrip(".")
    print("| budget | success before | success after | drop | AUC before | AUC after | AUC loss | feasible | "
          "rows added | unconstrained success | unconstrained rows breaking rules/immutables | seconds |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for budget in (float(b) for b in args.budgets.split(",")):
        runs, free = [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            result = harden(train, "income", test=test, rules=RULES, immutable=IMMUTABLE, budget=budget, rounds=2,
                            edge_cases=200, seed=seed)  # fmt: skip
            report = result["report"]
            report["wall"] = time.perf_counter() - start
            runs.append(report)
            free.append(unconstrained_share(train, test, budget, seed))

        def mean(key: str, part: str | None = None, runs: list = runs) -> float:
            return float(np.mean([r[part][key] if part else r[key] for r in runs]))

        feasible = sum(r["adversarial_rows_feasible"] for r in runs) / max(1, sum(r["adversarial_rows"] for r in runs))
        print(f"| {budget:g} | {mean('success_rate', 'before'):.3f} | {mean('success_rate', 'after'):.3f} | "
              f"{mean('success_rate_drop'):.3f} | {mean('clean_auc', 'before'):.4f} | {mean('clean_auc', 'after'):.4f} "
              f"| {mean('clean_auc_loss'):.4f} | {feasible:.1%} | "
              f"{np.mean([sum(r['rows_added']) for r in runs]):.0f} | {np.mean([f[0] for f in free]):.3f} | "
              f"{np.mean([f[1] for f in free]):.1%} | {mean('wall'):.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
