"""Cross-check synthgov's singling-out, linkability and inference risks against anonymeter 1.1.0.

anonymeter pins numpy<1.27 and pyarrow<22, so it runs in its own virtual environment (created here on first use,
``.venv-anonymeter`` at the repository root); both implementations attack the same tables, written as CSV.

    python benchmarks/crosscheck_anonymeter.py            # prints a table; exit 1 if a risk disagrees

Agreement: each of our risks lies within anonymeter's 95% confidence interval or anonymeter's point estimate
lies within ours. Two synthetic tables are attacked: a copula sample (low risk) and a leaky one that contains
half of the training rows verbatim (high risk), so agreement is tested at both ends.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "datasets" / "adult"
ROWS = 3_000

CHILD = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import numpy as np
import pandas as pd
from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator
np.random.seed(0)  # anonymeter draws its targets with pandas' sample (numpy's global state): seeded, runs repeat
folder, secret, n = sys.argv[1], sys.argv[4], int(sys.argv[5])
cols_a, cols_b = sys.argv[2].split(","), sys.argv[3].split(",")
ori, ctl = pd.read_csv(f"{folder}/ori.csv"), pd.read_csv(f"{folder}/control.csv")
out = {}
for name in ("copula", "leaky"):
    syn = pd.read_csv(f"{folder}/{name}.csv")
    so = SinglingOutEvaluator(ori=ori, syn=syn, control=ctl, n_attacks=n, n_cols=3, seed=0)
    so = so.evaluate(mode="multivariate")
    li = LinkabilityEvaluator(ori=ori, syn=syn, control=ctl, n_attacks=n, aux_cols=(cols_a, cols_b)).evaluate(n_jobs=2)
    aux = [c for c in ori.columns if c != secret]
    inf = InferenceEvaluator(ori=ori, syn=syn, control=ctl, aux_cols=aux, secret=secret, n_attacks=n).evaluate(n_jobs=2)
    out[name] = {k: {"risk": e.risk().value, "ci": list(e.risk().ci)} for k, e in
                 (("singling_out", so), ("linkability", li), ("inference", inf))}
print(json.dumps(out))
"""


def ensure_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "anonymeter==1.1.0"], check=True)
    return python


def tables() -> dict[str, pd.DataFrame]:
    import synthgov

    train = pd.read_csv(DATA / "train.csv") if (DATA / "train.csv").exists() else synthgov.load_demo("adult")
    test = pd.read_csv(DATA / "test.csv") if (DATA / "test.csv").exists() else synthgov.load_demo("adult", "test")
    ori = train.sample(ROWS, random_state=0).reset_index(drop=True)
    control = test.sample(ROWS, random_state=1).reset_index(drop=True)
    copula = synthgov.synthesizer("copula", seed=0).fit(ori).sample(ROWS, seed=1)
    leaky = pd.concat([ori.sample(ROWS // 2, random_state=2), copula.head(ROWS - ROWS // 2)], ignore_index=True)
    return {"ori": ori, "control": control, "copula": copula, "leaky": leaky}


def ours(data: dict[str, pd.DataFrame], cols_a: list[str], cols_b: list[str], secret: str, n: int) -> dict:
    from synthgov.evaluation import attacks
    from synthgov.evaluation.prepare import Encoding, load_tables

    out = {}
    for name in ("copula", "leaky"):
        t = load_tables(data["ori"], data[name], data["control"])
        enc = Encoding.fit(t)
        rng = np.random.default_rng(0)
        so = attacks.singling_out(data["ori"], data[name], data["control"], t, rng, n_attacks=n)
        li = attacks.linkability(data["ori"], data[name], data["control"], t, enc, rng, n_attacks=n)
        assert li["aux_columns"] == [cols_a, cols_b]
        inf = attacks.inference(data["ori"], data[name], data["control"], t, enc, secret, rng, n_attacks=n)
        out[name] = {"singling_out": so, "linkability": li, "inference": inf}
    return out


def agree(a: dict, b: dict) -> bool:
    return b["ci"][0] - 1e-9 <= a["risk"] <= b["ci"][1] + 1e-9 or a["ci"][0] - 1e-9 <= b["risk"] <= a["ci"][1] + 1e-9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-anonymeter")
    parser.add_argument("--attacks", type=int, default=500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    python = ensure_venv(args.venv)
    data = tables()
    columns = list(data["ori"].columns)
    cols_a, cols_b, secret = columns[0::2], columns[1::2], "income"
    with tempfile.TemporaryDirectory() as folder:
        for name, frame in data.items():
            frame.to_csv(Path(folder) / f"{name}.csv", index=False)
        done = subprocess.run(
            [str(python), "-c", CHILD, folder, ",".join(cols_a), ",".join(cols_b), secret, str(args.attacks)],
            capture_output=True,
            text=True,
            check=True,
        )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    mine = ours(data, cols_a, cols_b, secret, args.attacks)
    ok = True
    print("| synthetic | attack | synthgov risk [95% CI] | anonymeter risk [95% CI] | agree |")
    print("|---|---|---|---|---|")
    for name in ("copula", "leaky"):
        for attack in ("singling_out", "linkability", "inference"):
            a, b = mine[name][attack], theirs[name][attack]
            same = agree(a, b)
            ok &= same
            print(
                f"| {name} | {attack} | {a['risk']:.3f} [{a['ci'][0]:.3f}, {a['ci'][1]:.3f}] | "
                f"{b['risk']:.3f} [{b['ci'][0]:.3f}, {b['ci'][1]:.3f}] | {'yes' if same else 'NO'} |"
            )
    if args.json:
        args.json.write_text(json.dumps({"synthgov": mine, "anonymeter": theirs, "agree": ok}, indent=2, default=float))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
