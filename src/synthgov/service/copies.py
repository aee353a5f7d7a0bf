"""A recipient's copy: the release's rows with a second keyed watermark whose payload is the recipient (the
service's own watermark key and plan), written as a release folder whose manifest the service signs. The
manifest keeps the original's statement (generator, privacy, evaluation, lineage: measured on the original rows,
before this mark) and adds a ``copy`` section naming the original release, its manifest's digest and signing key,
and the recipient. ``synthgov detect`` with the service's home names the recipient of a leaked copy; ``synthgov
verify COPY --public-key service.pem`` checks it."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

DATA = "synthetic.parquet"


class CannotMark(InputError):
    """The rows cannot carry a detectable recipient mark (too few rows, or no column that can carry one)."""


def make_copy(
    original: Path,
    manifest: dict[str, Any],
    manifest_sha256: str,
    recipient: str,
    into: Path,
    *,
    keystore: Any,
    home: Path,
) -> dict[str, Any]:
    """Write the recipient's copy of the release folder ``original`` into ``into``, marked and signed with the
    service's ``keystore``, its plan recorded in the service's ``home``; return its signed manifest."""
    from synthgov.release.keys import watermark_key_id
    from synthgov.release.manifest import build_and_sign
    from synthgov.table.io import write_table
    from synthgov.watermark import embed, make_plan, registry
    from synthgov.watermark.detect import DETECTION_THRESHOLD, detect

    secret = keystore.watermark_secret()
    key_id = watermark_key_id(secret)
    frame = pd.read_parquet(original / DATA)
    predicate = manifest["statement"]["predicate"]
    release_id = predicate["release"]["id"]
    fingerprint = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    plan = make_plan(
        frame,
        key_id,
        release_id=f"{release_id}/copy/{recipient}",
        recipient=recipient,
        plan_seed=f"{key_id}|copy|{release_id}|{recipient}|{fingerprint}",
    )
    if not plan.carriers and not plan.category_counts:
        raise CannotMark("this release has no column that can carry a recipient's mark: it cannot be downloaded")
    marked = embed(frame, plan, secret)
    found = detect(marked, [plan], secret, key_id)
    if found.p_value > DETECTION_THRESHOLD:
        raise CannotMark(
            f"in these {len(marked):,} rows a recipient's mark would not be detectable (p = {found.p_value:.2g}): "
            "the release cannot be downloaded"
        )
    registry.save(plan, home)
    into.mkdir(parents=True, exist_ok=True)
    data = write_table(marked, into / DATA)
    if (original / "schema.yaml").is_file():
        (into / "schema.yaml").write_bytes((original / "schema.yaml").read_bytes())
    signer = keystore.index()
    copy_predicate = {k: v for k, v in predicate.items() if k != "integrity"}
    copy_predicate["signing_key_id"] = signer["signing_key_id"]
    copy_predicate["copy"] = {
        "of_release": release_id,
        "of_manifest_sha256": manifest_sha256,
        "of_signing_key_id": predicate.get("signing_key_id"),
        "recipient": recipient,
        "recipient_watermark": {
            "embedded": True,
            "p_value_at_copy": found.p_value,
            **plan.summary(),
            "key_id": plan.key_id,
        },
        "note": "the evaluation and copy figures are the original release's, measured before this recipient's mark",
    }
    document = build_and_sign(into, data_files=[data], predicate=copy_predicate, keystore=keystore)
    logger.info("copy of %s for %s written (plan %s)", release_id, recipient, plan.id)
    return document


def data_digest(document: dict[str, Any]) -> str:
    return str(document["statement"]["subject"][0]["digest"]["sha256"])


def plan_id(document: dict[str, Any]) -> str:
    return str(document["statement"]["predicate"]["copy"]["recipient_watermark"]["plan_id"])


def canonical_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
