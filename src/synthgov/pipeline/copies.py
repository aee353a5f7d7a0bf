"""The measure stage's work: how many released rows equal a training row, how small the table's support is, and
(with a holdout) how close the released rows sit to training rows against unseen real rows. These figures go
into the signed manifest and datasheet; nothing about copies is claimed that was not measured here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthgov.evaluation.privacy import DCR_REFERENCE_ROWS, DCR_SYNTHETIC_ROWS

COPY_METHOD = (
    "a released row is a copy when it equals a training row in every compared column (ids, personal data and "
    "free text are generated fresh and left out); rows compared by a hash of their values as text"
)
DCR_METHOD = (
    f"DCR share: share of released rows (a sample of up to {DCR_SYNTHETIC_ROWS:,}) whose nearest training row "
    f"(Gower-style distance, up to {DCR_REFERENCE_ROWS:,} rows) is closer than their nearest holdout row (as many "
    "rows), ties half; 0.5 means no closer to training than to unseen rows"
)
CLOSER_ROWS = 20_000  # released rows sampled for the closer-than-typical-holdout share
FRESH_METHOD = (
    "per id, personal-data and free-text column: released values (missing ones left out) equal to a value of the "
    "same training column, counted exactly"
)
SMALL_SUPPORT_ROWS = 1_000  # a table with this few distinct rows (or fewer) repeats them by necessity


def measure_copies(
    table: pd.DataFrame, data: pd.DataFrame, holdout: Any, schema: Any, seed: int | None
) -> dict[str, Any]:
    from synthgov.evaluation import privacy
    from synthgov.evaluation.prepare import Encoding, load_tables

    tables = load_tables(table, data, holdout, schema)
    fresh = fresh_value_overlap(table, data, schema)
    if not tables.columns:
        return {"method": COPY_METHOD, "compared_columns": [], "released_rows": len(data), "exact_copies": 0,
                "exact_copy_share": 0.0, "training_rows": len(table), "training_distinct_rows": None,
                "small_support": False, "fresh_columns": fresh, "fresh_method": FRESH_METHOD}  # fmt: skip
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
        "fresh_columns": fresh,
        "fresh_method": FRESH_METHOD,
    }
    if tables.holdout is not None:
        rng = np.random.default_rng(0 if seed is None else seed)
        encoding = Encoding.fit(tables)
        distances = privacy.distance_metrics(tables, encoding, rng)
        out.update(dcr_share=round(float(distances["dcr_share"]), 6), dcr_method=DCR_METHOD)
        out.update(closer_than_typical_holdout(tables, encoding, rng))
        out["holdout_copy_share"] = round(copies["holdout_copy_rate"], 6)
    return out


def fresh_value_overlap(table: pd.DataFrame, data: pd.DataFrame, schema: Any) -> dict[str, int]:
    """For each column generated fresh (ids, personal data, text), how many released values a training row has."""
    kinds = ("id", "pii", "text")
    return {
        col.name: int(data[col.name].dropna().isin(set(table[col.name].dropna())).sum())
        for col in schema.columns
        if col.kind in kinds and col.name in data.columns
    }


def closer_than_typical_holdout(tables: Any, encoding: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Share of released rows closer to their nearest training row than the real holdout rows typically are
    (the median of the holdout rows' distances to their nearest training row): about 0.5 when the released rows
    sit no closer to the training rows than unseen real rows do, towards 1 when they copy or hug them."""
    from synthgov.evaluation.distances import MixedNeighbors
    from synthgov.evaluation.prepare import sample_rows

    size = min(len(tables.real), len(tables.holdout), DCR_REFERENCE_ROWS)
    neighbours = MixedNeighbors(encoding, sample_rows(tables.real, size, rng))
    typical = float(np.median(neighbours.kneighbors(sample_rows(tables.holdout, size, rng), k=1)[0][:, 0]))
    released = neighbours.kneighbors(sample_rows(tables.synthetic, CLOSER_ROWS, rng), k=1)[0][:, 0]
    return {
        "closer_than_typical_holdout_share": round(float((released < typical).mean()), 6),
        "typical_holdout_distance": round(typical, 6),
        "closer_method": f"share of released rows (up to {CLOSER_ROWS:,}) whose nearest training row (up to "
        f"{DCR_REFERENCE_ROWS:,}, Gower-style distance) is closer than the median distance of real holdout rows "
        "to their nearest training row; about 0.5 means no closer than unseen real rows",
    }
