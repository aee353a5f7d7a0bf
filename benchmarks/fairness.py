"""Bias mitigation at generation time (issue 21, part 2), measured on a downstream model: a gradient-boosting
classifier (scikit-learn's HistGradientBoostingClassifier, native categories, random_state 0) trained on each
table and scored on real test rows it never saw.

    python benchmarks/fairness.py [--seeds 3] [--generators autoregressive,copula,bayesnet] [--no-peer]

Datasets: Adult (train.csv -> test.csv; sensitive: sex; 3 seeds) and German credit (sensitive: age >= 25; 10
seeds, each its own 70/30 split of the 1,000 rows: with about 45 young test rows, one split's DPD moves by +-0.05).
Per generator and seed: a plain release, a `parity` release (drawn the way synthgov chooses: selection from the
unconditional sampler when it needs at most 4 rows per released row), the same parity release with every cell
drawn under its conditions instead, and a `rebalance` release (equal shares). Printed per dataset (mean over
seeds, +- standard deviation; each ratio and loss per seed against the real-trained model of the same split):

- loss vs plain: the same generator's plain release's AUC - this AUC (what the mitigation itself costs);
- dpd: demographic-parity difference of the model's predictions (threshold 0.5) on the test rows, by group
  (fairlearn); ratio: mean dpd / mean dpd of the same model trained on the real training rows of each split
  (target: <= 0.5 for parity);
- auc: ROC AUC on the test rows; loss: real-trained AUC - this AUC (target: <= 0.02);
- gap: the table's own label-rate gap between the groups; share err: the largest distance between a group's share
  in a rebalance release and the request, in points (target: within 1);
- "real rows, reweighed to parity": the parity cells sampled from the real training rows themselves (what a
  perfect generator would give);
- pairs: counterfactual pairs (copula, sex / young, descendants: the label) that differ outside the sensitive
  column and its descendants (must be 0).

The peer: mostlyai-engine's TabularARGN with its FairnessConfig (statistical parity of the target across the
sensitive column), from the isolated venv `.venv-mostly` (benchmarks/README.md), fitted once per seed and sampled
plainly and with fairness; German's age split is given to it as a categorical column, dropped before scoring.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
logging.disable(logging.WARNING)


def load(name: str, seed: int = 0) -> dict:
    if name == "adult":
        train = pd.read_csv(SHARED / "adult" / "train.csv")
        test = pd.read_csv(SHARED / "adult" / "test.csv")
        test["income"] = test["income"].astype(str).str.rstrip(".")
        return {"train": train, "test": test, "target": "income", "fair": "sex", "positive": ">50K",
                "group": lambda f: f["sex"].astype(str)}  # fmt: skip
    table = pd.read_csv(SHARED / "german" / "german_credit.csv")
    order = np.random.default_rng(seed).permutation(len(table))  # one 70/30 split per seed
    cut = int(0.7 * len(table))
    train, test = table.iloc[order[:cut]].reset_index(drop=True), table.iloc[order[cut:]].reset_index(drop=True)
    return {"train": train, "test": test, "target": "credit_risk", "fair": "age_in_years>=25", "positive": 2,
            "group": lambda f: np.where(f["age_in_years"] >= 25, "25+", "<25")}  # fmt: skip


def score(data: dict, table: pd.DataFrame) -> dict:
    """Train the gradient-boosting model on ``table`` and score it on the real test rows."""
    from fairlearn.metrics import demographic_parity_difference
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    target, train, test = data["target"], data["train"], data["test"]
    features = [c for c in train.columns if c != target]
    categories = {
        c: pd.CategoricalDtype(sorted(set(train[c].dropna().astype(str)) | set(test[c].dropna().astype(str))))
        for c in features
        if not pd.api.types.is_numeric_dtype(train[c])
    }

    def x(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[features].copy()
        for column, dtype in categories.items():
            out[column] = out[column].astype(str).where(out[column].notna()).astype(dtype)
        for column in features:
            if column not in categories:
                out[column] = pd.to_numeric(out[column], errors="coerce")
        return out

    y = (table[target].astype(str) == str(data["positive"])).to_numpy()
    y_test = (test[target].astype(str) == str(data["positive"])).to_numpy()
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(x(table), y)
    p = model.predict_proba(x(test))[:, 1]
    groups = data["group"](table)
    rates = pd.Series(y).groupby(np.asarray(groups)).mean()
    return {
        "auc": float(roc_auc_score(y_test, p)),
        "dpd": float(demographic_parity_difference(y_test, p >= 0.5, sensitive_features=data["group"](test))),
        "gap": float(rates.max() - rates.min()),
    }


def ours(data: dict, generator: str, seed: int, epochs: int | None) -> dict:
    from synthgov.pipeline import generate

    params = {"epochs": epochs} if epochs and generator in ("autoregressive", "ctgan", "tvae", "ddpm") else None
    common = dict(generator=generator, seed=seed, watermark=False, params=params)
    out = {}
    import synthgov.fairness.sampling as sampling

    parity = {"fair": (data["fair"],), "target": data["target"], "strategy": "parity"}
    for label, options in (
        ("plain", {}),
        ("parity", parity),
        ("parity, cells under conditions", parity),
        ("rebalance", {"fair": (data["fair"],), "strategy": "rebalance"}),
    ):
        default = sampling.MAX_SELECTION_FACTOR
        sampling.MAX_SELECTION_FACTOR = 0.0 if "conditions" in label else default  # force the other way
        start = time.perf_counter()
        try:
            release = generate(data["train"], **common, **options)
        finally:
            sampling.MAX_SELECTION_FACTOR = default
        seconds = time.perf_counter() - start
        out[label] = {**score(data, release.data), "seconds": seconds}
        if label == "rebalance":
            shares = pd.Series(data["group"](release.data)).value_counts(normalize=True)
            out[label]["share_err"] = float((shares - 1 / len(shares)).abs().max() * 100)
    return out


def real_parity(data: dict, seed: int) -> dict:
    """The parity reweighing applied to the real training rows themselves (each cell sampled, with replacement
    where it must grow, to P(group) x P(label)): what a perfect generator's parity release would give."""
    train, target = data["train"], data["target"]
    groups = pd.Series(np.asarray(data["group"](train)), index=train.index)
    rng = np.random.default_rng(seed)
    overall = train[target].value_counts(normalize=True)
    parts = []
    for _, members in train.groupby(groups):
        for label, share in overall.items():
            cell = members[members[target] == label]
            k = round(len(members) * share)
            parts.append(cell.iloc[rng.choice(len(cell), k, replace=k > len(cell))])
    return score(data, pd.concat(parts, ignore_index=True))


def pairs_outside(data: dict, seed: int) -> int:
    from synthgov.pipeline import generate

    fair = data["fair"] if ">=" not in data["fair"] else None
    if fair is None:  # German's age split has no categorical group to swap: the pairs run on its sex/status column
        fair = "personal_status_and_sex"
    release = generate(data["train"], generator="copula", seed=seed, watermark=False, fair=(fair,),
                       target=data["target"], strategy="counterfactual", rows=2000)  # fmt: skip
    first, second = release.data.iloc[0::2].reset_index(drop=True), release.data.iloc[1::2].reset_index(drop=True)
    allowed = {fair, data["target"]}
    outside = 0
    for column in release.data.columns:
        if column in allowed:
            continue
        same = (first[column] == second[column]) | (first[column].isna() & second[column].isna())
        outside += int((~same).sum())
    return outside


def peer(data: dict, seed: int, workdir: Path) -> dict | None:
    python = ROOT / ".venv-mostly" / "bin" / "python"
    if not python.exists():
        return None
    train = data["train"].copy()
    sensitive = data["fair"]
    if ">=" in sensitive:  # its sensitive columns must be categorical: the split as a column of its own
        sensitive = "age_group"
        train[sensitive] = data["group"](train)
    coded = pd.api.types.is_numeric_dtype(train[data["target"]])
    if coded:  # its fairness target must be encoded categorically: a coded label (German's 1 / 2) as text
        train[data["target"]] = "class_" + train[data["target"]].astype(str)
    path = workdir / f"train-{seed}.csv"
    train.to_csv(path, index=False)
    start = time.perf_counter()
    done = subprocess.run(
        [str(python), str(ROOT / "benchmarks" / "peer_mostly_fair.py"), str(path), data["target"], sensitive,
         str(workdir / f"peer-{seed}"), str(seed)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"(TabularARGN failed: {done.stderr.strip().splitlines()[-1:]})")
        return None
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    out = {"fit_s": stats["fit_s"], "seconds": time.perf_counter() - start}
    for label in ("plain", "fair"):
        table = pd.read_csv(stats[label]).drop(columns=["age_group"], errors="ignore")
        if coded:
            table[data["target"]] = pd.to_numeric(table[data["target"]].astype(str).str.removeprefix("class_"))
        out[label] = score(data, table)
    return out


def summary(values: list[float]) -> str:
    return f"{np.mean(values):.3f} +- {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds on Adult")
    parser.add_argument("--german-seeds", type=int, default=10, help="seeds (and 70/30 splits) on German credit")
    parser.add_argument("--generators", default="autoregressive,copula,bayesnet")
    parser.add_argument("--datasets", default="adult,german")
    parser.add_argument("--epochs", type=int, default=None, help="neural generators' epochs (default: theirs)")
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    for name in args.datasets.split(","):
        seeds = range(args.seeds if name == "adult" else args.german_seeds)
        datas = [load(name, seed) for seed in seeds]
        reals = [score(data, data["train"]) for data in datas]
        data = datas[0]
        print(f"\n## {name}: sensitive {data['fair']}, label {data['target']} (positive {data['positive']}), "
              f"{len(seeds)} seeds; real-trained model: AUC {summary([r['auc'] for r in reals])}, DPD "
              f"{summary([r['dpd'] for r in reals])}; training rows' label-rate gap "
              f"{summary([r['gap'] for r in reals])}")  # fmt: skip
        print("| generator | release | AUC | AUC loss | loss vs plain | DPD | DPD / real | table gap | share err (pts) "
              "| seconds |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|")
        for generator in args.generators.split(","):
            runs = [ours(d, generator, seed, args.epochs) for seed, d in zip(seeds, datas, strict=True)]
            for label in ("plain", "parity", "parity, cells under conditions", "rebalance"):
                figures = [r[label] for r in runs]
                err = summary([f["share_err"] for f in figures]) if label == "rebalance" else ""
                print(f"| {generator} | {label} | {_columns(figures, runs, reals)} | {err} | "
                      f"{summary([f['seconds'] for f in figures])} |", flush=True)  # fmt: skip
        runs = [
            {"plain": real, "parity": real_parity(d, seed)} for seed, d, real in zip(seeds, datas, reals, strict=True)
        ]
        print(f"| real rows, reweighed to parity | parity | {_columns([r['parity'] for r in runs], runs, reals)} | | |")
        if not args.no_peer:
            with tempfile.TemporaryDirectory() as tmp:
                runs = [peer(d, seed, Path(tmp)) for seed, d in zip(seeds, datas, strict=True)]
            if not all(runs):
                print("(TabularARGN not run: create .venv-mostly as in benchmarks/README.md)")
            for label in ("plain", "fair") if all(runs) else ():
                figures = [r[label] for r in runs]
                print(f"| TabularARGN (mostlyai-engine) | {'FairnessConfig' if label == 'fair' else 'plain'} | "
                      f"{_columns(figures, runs, reals)} | | {summary([r['seconds'] for r in runs])} (fit + 2 "
                      "samples) |", flush=True)  # fmt: skip
        print(f"\ncounterfactual pairs (copula) differing outside the sensitive column and the label: "
              f"{pairs_outside(data, 0)}")  # fmt: skip
    sys.stdout.flush()


def _columns(figures: list[dict], runs: list[dict], reals: list[dict]) -> str:
    """AUC, its loss against the real-trained model and against the plain release (per seed against the same
    seed's split, then averaged), DPD, the ratio of its mean to the real-trained model's mean, the table's gap."""
    auc = summary([f["auc"] for f in figures])
    loss = summary([r["auc"] - f["auc"] for r, f in zip(reals, figures, strict=True)])
    own = summary([run["plain"]["auc"] - f["auc"] for run, f in zip(runs, figures, strict=True)])
    # the ratio of the means: one split's DPD can be near 0 (German), which makes per-split ratios meaningless
    ratio = f"{np.mean([f['dpd'] for f in figures]) / np.mean([r['dpd'] for r in reals]):.3f}"
    return f"{auc} | {loss} | {own} | {summary([f['dpd'] for f in figures])} | {ratio} | " + summary(
        [f["gap"] for f in figures]
    )


if __name__ == "__main__":
    main()
