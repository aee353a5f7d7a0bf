"""Benchmark of the neural generators on Adult, with their peers, printing a table and ratios.

    python benchmarks/neural.py                       # ours (defaults) + peers found
    python benchmarks/neural.py --only autoregressive # some of ours
    python benchmarks/neural.py --epoch-timing        # seconds per epoch: ours vs SDV CTGAN / TVAE
    python benchmarks/neural.py --epoch-timing --repeat 3 --precision float32   # median of 3 interleaved rounds
    python benchmarks/neural.py --widen 1000000       # the default generator on a 1M-row widening of Adult
    python benchmarks/neural.py --only autoregressive --no-peers --seeds 0 1 2   # spread over seeds
    python benchmarks/neural.py --only ctgan --no-peers --sdv ctgan   # ours vs SDV's CTGAN at 300 epochs

Everything runs one after the other in the same order (ours, then TabularARGN, then SDV), each in its own process
so that peak memory is its own. Quality: SDMetrics QualityReport against the train set (Shapes, Trends),
train-on-synthetic / test-on-real AUC for `income`, synthgov's detection AUC and DCR share (benchmarks/quality.py).
Peers: SDV (pip install -e '.[bench]') and mostlyai-engine's TabularARGN from an isolated venv (`.venv-mostly`,
see benchmarks/README.md). Seconds per epoch: the median epoch of a 6-epoch fit, leaving out the first, each epoch
timed from inside the training loop (_EpochClock), so fixed set-up costs (transformers, encoding) are never in it.
On a GPU machine the same command reports GPU fit times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run import _in_process, _load, _peak_mib  # noqa: E402

NEURAL = ["autoregressive", "ctgan", "tvae", "ddpm"]


def _judge_all(real, test, synthetic, schema) -> dict:
    from quality import detection_and_dcr, quality_report, tstr_auc

    return {
        **quality_report(real, synthetic, schema),
        "auc": tstr_auc(synthetic, test, "income", ">50K"),
        **detection_and_dcr(real, test, synthetic),
    }


def run_ours(name: str, params: dict, queue) -> None:
    warnings.simplefilter("ignore")
    import torch

    import synthgov

    real, test = _load()
    start = time.perf_counter()
    seed = params.pop("seed", 0)
    model = synthgov.synthesizer(name, seed=seed, **params).fit(real)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = model.sample(len(real), seed=seed + 1)
    sample = time.perf_counter() - start
    peak = _peak_mib()
    report = model.training_
    queue.put(
        {
            "generator": name if seed == 0 else f"{name} (seed {seed})",
            "device": str(model.device_)
            + (f" ({torch.cuda.get_device_name()})" if model.device_.type == "cuda" else ""),
            "fit_s": fit,
            "sample_s": sample,
            "peak_mib": peak,
            "epochs": report.epochs_run,
            "stopped": report.stopped,
            **_judge_all(real, test, synthetic, model.schema_),
        }
    )


def run_tabularargn(queue) -> None:
    python = ROOT / ".venv-mostly" / "bin" / "python"
    if not python.exists():
        queue.put(None)
        return
    import pandas as pd

    import synthgov

    real, test = _load()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "argn.csv"
        done = subprocess.run(
            [str(python), str(HERE / "peer_tabularargn.py"), str(csv)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            print(done.stderr[-2000:])
            queue.put(None)
            return
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        synthetic = pd.read_csv(csv)
    schema = synthgov.infer_schema(real)
    queue.put({"generator": "TabularARGN (mostlyai-engine)", **stats, **_judge_all(real, test, synthetic, schema)})


#: epochs per fit in --epoch-timing; the first is left out of the median (first-call costs: thread pools, imports)
TIMED_EPOCHS = 6


class _EpochClock:
    """Wall-clock marks at the start of training and at the end of every epoch, read from inside the epoch loop,
    so fixed costs (transformers, encoding, calibration) are never in an epoch: for synthgov through its
    progress-reporter seam (the training loop reports one step, whose advance at an epoch's end carries the
    epoch's losses); for SDV by standing in
    for ``tqdm`` around the epoch loop of the ``ctgan`` package that SDV's CTGAN and TVAE run."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def start(self, description: str, total: float | None) -> object:  # synthgov.progress.Reporter
        if not description.startswith("train:"):
            return None
        self.marks = [time.perf_counter()]
        return "train"

    def advance(self, handle: object, amount: float = 1, info: str | None = None) -> None:
        if handle == "train" and info is not None:  # an epoch's end carries its losses; batches advance without
            self.marks.append(time.perf_counter())

    def finish(self, handle: object) -> None:
        pass

    def tqdm(self, iterable, **_):  # the ctgan package's ``tqdm(range(epochs), disable=...)``
        clock = self

        class Epochs:
            def __iter__(self):
                clock.marks = [time.perf_counter()]
                for epoch in iterable:
                    yield epoch
                    clock.marks.append(time.perf_counter())  # the loop asked for the next epoch

            def set_description(self, *args, **kwargs) -> None:
                pass

        return Epochs()

    def epochs(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:], strict=False)]


def _epoch_seconds(kind: str, name: str, epochs: int, precision: str = "auto") -> tuple[float, list[float]]:
    """Fit on Adult for ``epochs`` epochs: (whole fit in seconds, each epoch's seconds)."""
    import synthgov
    from synthgov import progress

    real, _ = _load()
    clock = _EpochClock()
    start = time.perf_counter()
    if kind == "ours":
        with progress.use_reporter(clock):
            synthgov.synthesizer(name, seed=0, epochs=epochs, patience=None, precision=precision).fit(real)
    else:
        import ctgan.synthesizers.ctgan as ctgan_module
        import ctgan.synthesizers.tvae as tvae_module
        from sdv.metadata import Metadata
        from sdv.single_table import CTGANSynthesizer, TVAESynthesizer

        ctgan_module.tqdm = tvae_module.tqdm = clock.tqdm
        metadata = Metadata.detect_from_dataframes({"adult": real})
        cls = CTGANSynthesizer if name == "ctgan" else TVAESynthesizer
        cls(metadata, epochs=epochs).fit({"adult": real})
    fit = time.perf_counter() - start
    each = clock.epochs()
    if len(each) != epochs:
        raise RuntimeError(f"{kind} {name}: {len(each)} epochs timed, {epochs} run (the epoch loop changed?)")
    return fit, each


def run_epoch_timing(kind: str, name: str, precision: str = "auto") -> dict | None:
    """Seconds per epoch, measured in a fresh interpreter (not a multiprocessing child: SDV's transformer
    starts joblib workers, which hung inside a spawned child here)."""
    done = subprocess.run(
        [sys.executable, __file__, "--epoch-child", kind, name, precision],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr[-2000:])
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _epoch_child(kind: str, name: str, precision: str) -> None:
    warnings.simplefilter("ignore")
    fit, each = _epoch_seconds(kind, name, TIMED_EPOCHS, precision)
    label = f"SDV {name}" if kind == "sdv" else name + ("" if precision == "auto" else f" ({precision})")
    row = {"generator": label, "fit_s": fit, "per_epoch_s": statistics.median(each[1:]), "epochs_s": each}
    print(json.dumps(row))


def run_sdv(name: str, epochs: int) -> dict | None:
    """SDV's CTGAN or TVAE at ``epochs``, fitted and sampled in a fresh interpreter (see run_epoch_timing),
    judged here like ours."""
    import pandas as pd

    import synthgov

    real, test = _load()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "sdv.csv"
        done = subprocess.run(
            [sys.executable, __file__, "--sdv-child", name, str(epochs), str(csv)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stderr[-2000:])
            return None
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        synthetic = pd.read_csv(csv)
    synthetic = synthetic.astype(
        {c: real[c].dtype for c in real.columns if real[c].dtype.kind in "iu"}, errors="ignore"
    )
    return {**stats, **_judge_all(real, test, synthetic, synthgov.infer_schema(real))}


def _sdv_child(name: str, epochs: str, csv: str) -> None:
    warnings.simplefilter("ignore")
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, TVAESynthesizer

    real, _ = _load()
    metadata = Metadata.detect_from_dataframes({"adult": real})
    cls = CTGANSynthesizer if name == "ctgan" else TVAESynthesizer
    start = time.perf_counter()
    model = cls(metadata, epochs=int(epochs))
    model.fit({"adult": real})
    fit = time.perf_counter() - start
    start = time.perf_counter()
    sampled = model.sample(len(real))
    (sampled["adult"] if isinstance(sampled, dict) else sampled).to_csv(csv, index=False)  # SDV 2: a dict
    sample = time.perf_counter() - start
    label = f"SDV {name} ({epochs} epochs)"
    print(json.dumps({"generator": label, "fit_s": fit, "sample_s": sample, "peak_mib": _peak_mib(), "epochs": epochs}))


def run_widened(rows: int, queue) -> None:
    """The default generator on ``rows`` rows: Adult resampled with jittered numbers (a synthetic widening)."""
    warnings.simplefilter("ignore")
    import numpy as np

    import synthgov
    from synthgov.generators import registry

    real, _ = _load()
    rng = np.random.default_rng(0)
    wide = real.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    for col in ("age", "fnlwgt", "hours-per-week"):
        wide[col] = np.maximum(1, wide[col] + rng.integers(-2, 3, rows) * (1 if col != "fnlwgt" else 100))
    start = time.perf_counter()
    model = synthgov.synthesizer(registry.DEFAULT_GENERATOR, seed=0, epochs=3).fit(wide)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    model.sample(rows, seed=1)
    queue.put(
        {
            "generator": f"{registry.DEFAULT_GENERATOR}, {rows:,} rows, 3 epochs",
            "fit_s": fit,
            "sample_s": time.perf_counter() - start,
            "peak_mib": _peak_mib(),
        }
    )


def _table(rows: list[dict], keys: list[tuple[str, str, str]]) -> None:
    print("| " + " | ".join(label for _, label, _ in keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(format(r[k], f) if k in r and f else str(r.get(k, "")) for k, _, f in keys) + " |")


def main() -> None:
    import importlib.util

    sys.stdout.reconfigure(line_buffering=True)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="our generators to run (default: all neural ones)")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--epoch-timing", action="store_true", help="seconds per epoch of ctgan/tvae vs SDV")
    parser.add_argument("--widen", type=int, help="also fit the default generator on this many widened rows")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="fit ours with each seed (sample: seed + 1)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sdv", nargs="*", choices=["ctgan", "tvae"], help="also run SDV's CTGAN / TVAE")
    parser.add_argument("--sdv-epochs", type=int, default=300, help="epochs for --sdv (default 300, as SDV)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of --epoch-timing (the median ratio is printed)")
    parser.add_argument(
        "--precision", default="auto", choices=["auto", "float32", "bfloat16"], help="ours, for --epoch-timing"
    )
    parser.add_argument("--epoch-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--sdv-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epoch_child:
        _epoch_child(*args.epoch_child)
        return
    if args.sdv_child:
        _sdv_child(*args.sdv_child)
        return
    rows: list[dict] = []
    if args.epoch_timing:
        ratios: dict[str, list[float]] = {}
        for round_ in range(1, args.repeat + 1):  # rounds interleave ours and SDV: a slow spell hits both
            for name in ("ctgan", "tvae"):
                ours = run_epoch_timing("ours", name, args.precision)
                sdv = run_epoch_timing("sdv", name) if importlib.util.find_spec("sdv") else None
                for row in (ours, sdv):
                    if row:
                        spread = "-".join(f"{t:.2f}" for t in (min(row["epochs_s"][1:]), max(row["epochs_s"][1:])))
                        rows.append({**row, "round": round_, "spread": spread})
                if ours and sdv:
                    ratios.setdefault(name, []).append(sdv["per_epoch_s"] / ours["per_epoch_s"])
        _table(
            rows,
            [
                ("round", "round", ""),
                ("generator", "generator", ""),
                ("fit_s", f"fit, {TIMED_EPOCHS} epochs s", ".1f"),
                ("per_epoch_s", "s / epoch (median)", ".2f"),
                ("spread", f"epochs 2-{TIMED_EPOCHS}, s", ""),
            ],
        )
        for name, values in ratios.items():
            each = ", ".join(f"{v:.2f}" for v in values)
            print(f"{name}: {statistics.median(values):.2f}x faster per epoch than SDV (median; rounds: {each})")
    else:
        for name in NEURAL if args.only is None else args.only:
            for seed in args.seeds:
                rows.append(_in_process(run_ours, name, {"seed": seed}))
        if not args.no_peers:
            peer = _in_process(run_tabularargn)
            if peer is None:
                print("(TabularARGN not run: create .venv-mostly as in benchmarks/README.md)")
            rows.append(peer)
        for name in args.sdv or []:
            rows.append(run_sdv(name, args.sdv_epochs))
        if args.widen:
            rows.append(_in_process(run_widened, args.widen))
        rows = [r for r in rows if r]
        _table(
            rows,
            [
                ("generator", "generator", ""),
                ("fit_s", "fit s", ".1f"),
                ("sample_s", "sample s", ".2f"),
                ("peak_mib", "peak RSS MiB", ".0f"),
                ("epochs", "epochs", ""),
                ("shapes", "Shapes", ".3f"),
                ("trends", "Trends", ".3f"),
                ("auc", "AUC", ".3f"),
                ("detection_auc", "detection AUC", ".3f"),
                ("dcr_share", "DCR share", ".3f"),
            ],
        )
        ours = next((r for r in rows if r["generator"] == "autoregressive"), None)
        peer = next((r for r in rows if r["generator"].startswith("TabularARGN")), None)
        if ours and peer:
            print(f"\nautoregressive vs TabularARGN: fit {peer['fit_s'] / ours['fit_s']:.1f}x faster")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
