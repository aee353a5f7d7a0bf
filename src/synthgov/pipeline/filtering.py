"""The privacy filter (``--privacy-filter``): released rows that sit unusually close to a training row are drawn
again, and dropped when they stay close.

"Unusually close": the row's distance to the nearest of *all* training rows (the evaluation's Gower-style
distance) is below a threshold: the 5th percentile of the same distance for real holdout rows (``--holdout``), or
the policy's ``privacy_filter_distance``. Up to :data:`ROUNDS` times the close rows are drawn again from the model
(with their conditions); rows still close after that are dropped. The manifest's ``privacy_filter`` section says
how many rows it touched and what it cost in fidelity (SDMetrics-equivalent overall score against the training
table, before and after). The filter reads the training rows, so it would void a differential-privacy guarantee:
a DP generator refuses it (exit 2).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError

if TYPE_CHECKING:
    from synthgov.pipeline.run import ReleaseRun

logger = logging.getLogger(__name__)

ROUNDS = 3
PERCENTILE = 0.05
HOLDOUT_ROWS = 2_000
METHOD = (
    "distance of each released row to the nearest of all training rows (Gower-style: numbers scaled by the "
    "training range, L1; categories 0/1); rows below the threshold are drawn again from the model up to "
    f"{ROUNDS} times, then dropped"
)


def threshold(run: ReleaseRun, tables: Any, encoding: Any, rng: np.random.Generator) -> tuple[float, str]:
    """The distance below which a row is too close, and where it came from."""
    from synthgov.evaluation.distances import MixedNeighbors
    from synthgov.evaluation.prepare import sample_rows
    from synthgov.governance.guard import Policy

    policy = run.options.policy if isinstance(run.options.policy, Policy) else Policy.load(run.options.policy)
    if policy.privacy_filter_distance is not None:
        return float(policy.privacy_filter_distance), "the policy's privacy_filter_distance"
    if tables.holdout is None:
        raise InputError(
            "--privacy-filter needs a threshold: real holdout rows (--holdout) or privacy_filter_distance in the policy"
        )
    holdout = sample_rows(tables.holdout, HOLDOUT_ROWS, rng)
    distances = MixedNeighbors(encoding, tables.real).kneighbors(holdout, k=1)[0][:, 0]
    value = float(np.quantile(distances, PERCENTILE))
    return value, f"5th percentile of {len(holdout):,} holdout rows' distances to the training rows"


def apply(run: ReleaseRun) -> dict[str, Any]:
    """Filter ``run.data`` in place; return the manifest's section."""
    from synthgov.evaluation.distances import MixedNeighbors
    from synthgov.evaluation.fidelity import quality_scores
    from synthgov.evaluation.prepare import Encoding, load_tables
    from synthgov.pipeline.value_rules import draw

    assert run.table is not None and run.data is not None
    schema = run.model.schema_
    seed = run.options.seed if run.options.seed is not None else int(run.model.seed_)
    rng = np.random.default_rng([seed, 7])
    tables = load_tables(run.table, run.data, run.options.holdout, schema)
    encoding = Encoding.fit(tables)
    limit, source = threshold(run, tables, encoding, rng)
    index = MixedNeighbors(encoding, tables.real)
    before = quality_scores(tables)["overall"]
    data = run.data.reset_index(drop=True)
    conditions = run.options.conditions

    def close(frame: pd.DataFrame) -> np.ndarray:
        coerced = load_tables(run.table, frame, None, schema).synthetic
        return index.kneighbors(coerced, k=1)[0][:, 0] < limit

    with progress.step(f"filter: distances of {len(data):,} rows to every training row"):
        flagged = np.flatnonzero(close(data))
    first = flagged.size
    resampled = 0
    for round_ in range(ROUNDS):
        if not flagged.size:
            break
        wanted = conditions.iloc[flagged].reset_index(drop=True) if isinstance(conditions, pd.DataFrame) else conditions
        fresh = draw(run, flagged.size, int(rng.integers(2**31)) + round_, wanted)
        fresh.index = flagged  # the new rows take the places of the close ones
        data = pd.concat([data.drop(index=flagged), fresh]).sort_index()
        resampled += flagged.size
        flagged = flagged[close(data.iloc[flagged])]
    kept = np.setdiff1d(np.arange(len(data)), flagged)
    run.data = data.iloc[kept].reset_index(drop=True)
    after = quality_scores(load_tables(run.table, run.data, None, schema))["overall"]
    logger.info("privacy filter: %d rows close, %d dropped", first, flagged.size)
    return {
        "method": METHOD,
        "threshold": limit,
        "threshold_source": source,
        "rows_close_at_first": int(first),
        "rows_drawn_again": int(resampled),
        "rows_dropped": int(flagged.size),
        "rows_released": len(run.data),
        "fidelity_overall_before": float(before),
        "fidelity_overall_after": float(after),
    }
