"""Verifying a release: the signature, every file digest, the row-chunk tree; each problem named."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgov.errors import InputError
from synthgov.release import integrity, signing
from synthgov.release.keys import Keystore, public_key_from_pem, raw_public, signing_key_id
from synthgov.release.manifest import MANIFEST, field_digests


@dataclass
class Verification:
    valid: bool
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    key_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "key_id": self.key_id, "checks": self.checks, "problems": self.problems}


def load_manifest(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    path = folder / MANIFEST if folder.is_dir() else folder
    if not path.is_file():
        raise InputError(f"no {MANIFEST} in {folder}: not a synthgov release")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON (truncated or damaged): {str(exc).splitlines()[0]}") from None
    statement = document.get("statement") if isinstance(document, dict) else None
    if (
        not isinstance(statement, dict)
        or not isinstance(statement.get("predicate"), dict)
        or not isinstance(document.get("signatures"), list)
    ):
        raise InputError(f"{path} is not a synthgov manifest (statement or signatures missing)")
    return document


def trusted_keys(public_key: Path | None) -> dict[str, Any]:
    """Key id -> public key: the given PEM file, else the local keystore's key."""
    if public_key is not None:
        if not Path(public_key).is_file():
            raise InputError(f"public key file not found: {public_key}")
        pems = [Path(public_key).read_bytes()]
    else:
        store = Keystore.default()
        pems = [store.public_pem()] if store.exists() else []
    keys = {}
    for pem in pems:
        key = public_key_from_pem(pem)
        keys[signing_key_id(raw_public(key))] = key
    return keys


def verify_release(folder: str | Path, public_key: Path | None = None) -> Verification:
    folder = Path(folder)
    document = load_manifest(folder)
    statement = document["statement"]
    result = Verification(valid=True)
    keys = trusted_keys(public_key)
    if not keys:
        raise InputError("no public key to verify with: give --public-key or run `synthgov keys init`")
    signatures = document["signatures"]
    good = [
        s
        for s in signatures
        if isinstance(s, dict) and s.get("keyid") in keys and signing.verify_signature(statement, s, keys[s["keyid"]])
    ]
    if good:
        result.key_id = good[0]["keyid"]
        result.checks.append(f"signature valid (key {result.key_id})")
    else:
        named = ", ".join(str(s.get("keyid")) for s in signatures if isinstance(s, dict)) or "none"
        known = ", ".join(keys)
        if not any(isinstance(s, dict) and s.get("keyid") in keys for s in signatures):
            result.problems.append(f"signature: made with key(s) {named}, not with the trusted key {known}")
        else:
            result.problems.append("signature: does not match the manifest (the manifest or the signature was changed)")
        recorded = document.get("field_digests") or {}
        current = field_digests(statement.get("predicate", {}))
        edited = sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
        if edited:
            result.problems.append(f"manifest fields changed: {', '.join(edited)}")
    files = statement["predicate"].get("integrity", {}).get("files", [])
    if not files:
        result.problems.append("integrity: the manifest lists no data files")
    for entry in files:
        _check_file(folder, entry, result)
    for entry in statement["predicate"].get("integrity", {}).get("exports", []):
        path = folder / entry["path"]
        if not path.is_file():
            result.problems.append(f"{entry['path']}: missing")
        elif integrity.file_sha256(path) != entry["sha256"]:
            result.problems.append(f"{entry['path']}: sha256 differs (the export was edited)")
        else:
            result.checks.append(f"{entry['path']}: sha256 matches")
    subjects = {s.get("name"): s.get("digest", {}).get("sha256") for s in statement.get("subject", [])}
    for entry in files:
        if subjects.get(entry["path"]) != entry["sha256"]:
            result.problems.append(f"{entry['path']}: statement subject digest differs from the integrity record")
    _check_watermark(folder, statement["predicate"], files, result)
    result.valid = not result.problems
    return result


def _check_watermark(folder: Path, predicate: dict[str, Any], files: list[dict[str, Any]], result: Verification):
    """A release that says it is watermarked must carry the mark (checked when this keystore holds its key)."""
    marking = predicate.get("watermark") or {}
    if not marking.get("embedded"):
        result.checks.append("watermark: the manifest says this release is unmarked")
        return
    store = Keystore.default()
    if not store.exists():
        result.checks.append(f"watermark: not checked (key {marking.get('key_id')} is not in this keystore)")
        return
    from synthgov.release.keys import watermark_key_id
    from synthgov.watermark import detect, registry

    secret = store.watermark_secret()
    if watermark_key_id(secret) != marking.get("key_id"):
        result.checks.append(f"watermark: not checked (key {marking.get('key_id')} is not in this keystore)")
        return
    plans = [p for p in registry.plans_for(marking["key_id"]) if p.id == marking.get("plan_id")]
    data = [e for e in files if (folder / e["path"]).is_file()]
    if not plans or not data:
        result.checks.append("watermark: not checked (the plan of this release is not in this keystore)")
        return
    found = detect(integrity.read_data(folder / data[0]["path"]), plans, secret, marking["key_id"])
    if found.p_value <= 1e-6:
        result.checks.append(f"watermark: present (p = {found.p_value:.1e}, payload {found.payload_hex})")
    else:
        result.problems.append(
            f"watermark: the manifest says marked, but the data does not carry it (p = {found.p_value:.2g})"
        )


def _check_file(folder: Path, entry: dict[str, Any], result: Verification) -> None:
    path = folder / entry["path"]
    if not path.is_file():
        result.problems.append(f"{entry['path']}: missing")
        return
    if integrity.file_sha256(path) == entry["sha256"]:
        result.checks.append(f"{entry['path']}: sha256 matches")
        return
    try:
        frame = integrity.read_data(path)
    except Exception:  # unreadable after tampering
        result.problems.append(f"{entry['path']}: sha256 differs and the file cannot be read as a table")
        return
    leaves = integrity.chunk_hashes(frame, entry["chunk_rows"])
    size = entry["chunk_rows"]
    changed = [i for i, (a, b) in enumerate(zip(leaves, entry["chunk_hashes"], strict=False)) if a != b]
    parts = [f"{entry['path']}: sha256 differs"]
    if len(frame) != entry["rows"]:
        parts.append(f"{len(frame):,} rows where the manifest records {entry['rows']:,}")
    if changed:
        first = changed[0]
        where = ", ".join(f"chunk {i} (rows {i * size}-{(i + 1) * size - 1})" for i in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        parts.append(
            f"altered: {where}{more}"
            if len(frame) == entry["rows"]
            else f"rows differ from chunk {first} (row {first * size}) on"
        )
    elif len(frame) == entry["rows"]:
        parts.append("the rows are intact; the file's encoding or metadata was changed")
    result.problems.append("; ".join(parts))
