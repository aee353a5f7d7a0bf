"""The measure stage's work: how many released rows equal a training row, how small the table's support is, and
(with a holdout) how close the released rows sit to training rows against unseen real rows. These figures go
into the signed manifest and datasheet; nothing about copies is claimed that was not measured here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COPY_METHOD = (
    "a released row is a copy when it equals a training row in every compared column (ids, personal data and "
    "free text are generated fresh and left out); rows compared by a hash of their values as text"
)
DCR_METHOD = (
    "DCR share: share of released rows (up to 20,000) whose nearest training row (Gower-style distance, up to "
    "10,000 rows) is closer than their nearest holdout row, ties half; 0.5 means no closer to training than to "
    "unseen rows"
)
SMALL_SUPPORT_ROWS = 1_000  # a table with this few distinct rows (or fewer) repeats them by necessity


def measure_copies(
    table: pd.DataFrame, data: pd.DataFrame, holdout: Any, schema: Any, seed: int | None
) -> dict[str, Any]:
    from synthgov.evaluation import privacy
    from synthgov.evaluation.prepare import Encoding, load_tables

    tables = load_tables(table, data, holdout, schema)
    copies = privacy.exact_copies(tables)
    distinct = int(privacy._row_keys(tables.real, tables.columns).nunique())
    out: dict[str, Any] = {
        "method": COPY_METHOD,
        "compared_columns": list(tables.columns),
        "released_rows": len(data),
        "exact_copies": copies["exact_copies"],
        "exact_copy_share": round(copies["exact_copy_rate"], 6),
        "training_rows": len(table),
        "training_distinct_rows": distinct,
        "small_support": distinct <= SMALL_SUPPORT_ROWS,
    }
    if tables.holdout is not None:
        rng = np.random.default_rng(0 if seed is None else seed)
        distances = privacy.distance_metrics(tables, Encoding.fit(tables), rng)
        out.update(dcr_share=round(float(distances["dcr_share"]), 6), dcr_method=DCR_METHOD)
        out["holdout_copy_share"] = round(copies["holdout_copy_rate"], 6)
    return out
