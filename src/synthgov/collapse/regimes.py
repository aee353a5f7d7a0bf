"""What each generation trains on (Shumailov et al. 2024; Gerstgrasser et al. 2024; Alemohammad et al. 2024).

- ``replace``: only the previous generation's synthetic table (the first generation trains on the real one);
- ``accumulate``: the real table and every synthetic table made so far;
- ``fresh``: ``fresh_share`` of the rows drawn anew from the real table, the rest from the previous synthetic
  table (the same size as the real table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgov.errors import InputError

REGIMES = ("replace", "accumulate", "fresh")


def check_regime(regime: str) -> str:
    if regime not in REGIMES:
        raise InputError(f"unknown regime '{regime}' (choose from: {', '.join(REGIMES)})")
    return regime


def training_table(
    regime: str,
    real: pd.DataFrame,
    history: list[pd.DataFrame],
    rng: np.random.Generator,
    fresh_share: float = 0.1,
) -> tuple[pd.DataFrame, float]:
    """The table generation ``len(history) + 1`` trains on, and its share of synthetic rows. ``history`` holds
    the synthetic tables of the generations before, oldest first."""
    check_regime(regime)
    if not history:
        return real, 0.0
    if regime == "replace":
        return history[-1], 1.0
    if regime == "accumulate":
        table = pd.concat([real, *history], ignore_index=True)
        return table, 1.0 - len(real) / len(table)
    if not 0.0 <= fresh_share <= 1.0:
        raise InputError(f"fresh_share must be between 0 and 1, got {fresh_share}")
    n_real = round(fresh_share * len(real))
    previous = history[-1]
    n_syn = len(real) - n_real
    real_rows = real.iloc[rng.choice(len(real), size=n_real, replace=False)]
    syn_rows = previous.iloc[rng.choice(len(previous), size=n_syn, replace=n_syn > len(previous))]
    table = pd.concat([real_rows, syn_rows], ignore_index=True)
    return table, n_syn / max(len(table), 1)
