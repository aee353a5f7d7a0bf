"""The watermark stage's work: a plan for the released rows, the keyed embedding, and the manifest's section."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pandas as pd

from synthgov.pipeline.run import ReleaseRun

logger = logging.getLogger(__name__)

NO_CARRIER = (
    "no column can carry the mark (it needs a numeric column with at least 20 distinct values or a categorical "
    "column with two categories of 10 rows or more)"
)


def embed_watermark(run: ReleaseRun) -> dict[str, Any]:
    """Embed the keyed watermark in ``run.data`` and record the plan; return the manifest's watermark section."""
    from synthgov.watermark import embed, registry
    from synthgov.watermark.detect import DETECTION_THRESHOLD, detect, signed_vote

    carriers = carrier_columns(run, list(run.data.columns))
    frame = run.data[carriers]
    plan, secret = plan_for(run, frame)
    if not plan.carriers and not plan.category_counts:
        logger.info("watermark: not embedded: %s", NO_CARRIER)
        return unmarked(plan, NO_CARRIER)
    marked = embed(frame, plan, secret)
    found = detect(marked, [plan], secret, plan.key_id)
    if found.p_value > DETECTION_THRESHOLD:
        # the manifest claims only a mark the rows carry: too few rows (or too uniform) to detect it, so the rows
        # stay unmarked and the manifest says so with the measured p-value
        note = (
            f"not embedded: in these {len(marked):,} rows the mark would not be detectable (p = {found.p_value:.2g} "
            f"at release, threshold {DETECTION_THRESHOLD:g})"
        )
        logger.info("watermark: %s", note)
        return unmarked(plan, note)
    if carriers == list(run.data.columns):
        run.data = marked
    else:
        data = run.data.copy()
        for column in carriers:
            data[column] = marked[column]
        run.data = data
    plan.coherence = signed_vote(marked, plan, secret)
    registry.save(plan)
    return marked_section(plan, found.p_value)


def carrier_columns(run: ReleaseRun, columns: list[str]) -> list[str]:
    """The columns that may carry the mark: a partially synthetic release's generated columns (its real values
    stay as they are; a hybrid release is marked in all its rows, real ones included: a mark in the generated
    rows alone would tell them apart, a classifier's AUC 0.71 against 0.52 unmarked on Adult), none that a value
    rule reads (a mark must not break a rule), nor a column whose shares or pairs ``--fair`` fixed."""
    from synthgov.pipeline.fairness import carriers as free_of_fairness
    from synthgov.pipeline.value_rules import carriers as free_of_rules

    carriers = run.partial["replaced"] if run.partial is not None else columns
    return free_of_fairness(run, free_of_rules(run, carriers))


def plan_for(run: ReleaseRun, frame: pd.DataFrame) -> tuple[Any, bytes]:
    """The watermark plan of the carrier columns ``frame`` (unmarked rows: the release's, or its first
    partition's) under this keystore's key, and the key's secret."""
    from synthgov.release.keys import Keystore, watermark_key_id
    from synthgov.watermark import make_plan

    secret = Keystore.default().ensure().watermark_secret()
    key_id = watermark_key_id(secret)
    recipient = run.options.recipient
    fingerprint = int(pd.util.hash_pandas_object(frame, index=False).sum())
    plan = make_plan(
        frame,
        key_id,
        release_id=run.release_id,
        recipient=recipient,
        plan_seed=f"{key_id}|{run.generator}|{run.model.seed_}|{recipient}|{fingerprint}",
    )
    return plan, secret


def unmarked(plan: Any, note: str) -> dict[str, Any]:
    """The manifest's watermark section of a release left unmarked, and why."""
    return {"embedded": False, "scheme": plan.scheme, "key_id": plan.key_id, "note": note}


def marked_section(plan: Any, p_value: float) -> dict[str, Any]:
    """The manifest's watermark section of a marked release: the plan's public summary, a commitment to the whole
    plan (kept private in the issuer's registry) and the p-value measured on the rows as released."""
    return {
        "embedded": True,
        "p_value_at_release": p_value,
        **plan.summary(),
        "key_id": plan.key_id,
        "plan_commitment": hashlib.sha256(json.dumps(plan.to_dict(), sort_keys=True).encode()).hexdigest(),
        "recipient": plan.recipient,
        "detect": "synthgov detect <table> (needs this key and its plans)",
    }
