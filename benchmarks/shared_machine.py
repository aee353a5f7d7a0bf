"""The demo on a machine shared with other work (issue 26, case 12): its wall time quiet and beside N busy
processes, with synthgov's default OpenMP wait policy (passive) and with OpenMP's own (active spinning).

    python benchmarks/shared_machine.py [--busy 2] [--skip-active]

Prints one table: wall seconds and the ratio to the quiet run. Each run is the README's `synthgov demo` in a
fresh process with a fresh $SYNTHGOV_HOME.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _demo(policy: str | None, busy: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        with tempfile.TemporaryDirectory() as scratch:
            env["SYNTHGOV_HOME"] = str(Path(scratch) / "home")
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "synthgov", "demo", "--out", str(Path(scratch) / "demo")],
                env=env,
                check=True,
                capture_output=True,
            )
            return time.perf_counter() - started
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the loaded runs")
    parser.add_argument("--skip-active", action="store_true", help="skip the loaded run with spinning OpenMP")
    args = parser.parse_args()
    runs = [("quiet", "synthgov default (passive)", None, 0), ("loaded", "synthgov default (passive)", None, args.busy)]
    if not args.skip_active:
        runs.append(("loaded", "OpenMP default (active)", "ACTIVE", args.busy))
    print(f"cores: {os.cpu_count()}; busy processes beside the loaded runs: {args.busy}")
    print(f"{'machine':8} {'OpenMP wait':28} {'wall s':>8} {'x quiet':>8}")
    quiet = None
    for machine, label, policy, busy in runs:
        seconds = _demo(policy, busy)
        quiet = quiet or seconds
        print(f"{machine:8} {label:28} {seconds:8.1f} {seconds / quiet:8.2f}", flush=True)


if __name__ == "__main__":
    main()
