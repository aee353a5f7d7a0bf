"""The composed epsilon of k releases at (epsilon, delta) from one source under synthgov's zCDP accountant, against
adding epsilons (the table in docs/privacy.md). Run: python benchmarks/privacy_composition.py [EPSILON] [DELTA]"""

from __future__ import annotations

import sys

from synthgov.privacy.accounting import cdp_rho, composed_epsilon


def main() -> None:
    epsilon = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    delta = float(sys.argv[2]) if len(sys.argv) > 2 else 1e-5
    rho = cdp_rho(epsilon, delta)
    print(f"one release at epsilon {epsilon:g}, delta {delta:g}: rho {rho:.4f}")
    print("| releases | composed epsilon (zCDP) | epsilons added |")
    print("|---|---|---|")
    for k in range(1, 7):
        print(f"| {k} | {composed_epsilon([rho] * k, delta):.2f} | {k * epsilon:g} |")


if __name__ == "__main__":
    main()
