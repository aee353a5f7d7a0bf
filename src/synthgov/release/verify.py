"""Verifying a release: the signature, every file digest, the row-chunk tree; each problem named."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
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
    unsigned: list[str] = field(default_factory=list)  # files in the folder that the signature does not cover

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "key_id": self.key_id,
            "checks": self.checks,
            "problems": self.problems,
            "unsigned_files": self.unsigned,
        }


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


def verify_release(
    folder: str | Path, public_key: Path | None = None, dask: str | None = None, workers: int = 2
) -> Verification:
    """Check the signature first; only a statement signed by a trusted key leads to reading the files it names,
    and only names inside ``folder``. A malformed manifest is an :class:`InputError` naming the field. ``dask``:
    check the data files (and gather a partitioned release's watermark evidence) on a Dask cluster's workers."""
    folder = Path(folder)
    document = load_manifest(folder)
    statement = document["statement"]
    files, covered = _checked_structure(document, folder)
    result = Verification(valid=True)
    keys = trusted_keys(public_key)
    if not keys:
        raise InputError(
            "no public key to verify with: pass --public-key with the issuer's public key (their signing.pub.pem)"
        )
    if not _check_signature(document, keys, result):
        result.problems.append("not checked: the data files (a statement without a valid signature commits to nothing)")
        result.valid = False
        return result
    if not files:
        result.problems.append("integrity: the manifest lists no data files")
    # path -> (its rows, whether its sha256 matched, whether it reads as a table) for the files present; the rows
    # are kept for the first data file only (the one the watermark of a one-file release is tested on), so a
    # partitioned release is checked one partition in memory at a time
    read: dict[str, tuple[Any, bool, bool]] = {}
    if dask is not None and files:
        from synthgov.release.on_dask import map_in_order

        done = map_in_order(dask, workers, check_data_file, files, str(folder), False)
    else:
        done = [check_data_file(entry, str(folder), number == 0) for number, entry in enumerate(files)]
    for entry, check in zip(files, done, strict=True):
        result.checks += check.checks
        result.problems += check.problems
        if check.state is not None:
            read[entry["path"]] = (check.rows, check.state, check.readable)
    for entry in covered:
        path = folder / entry["path"]
        if not path.is_file():
            result.problems.append(f"{entry['path']}: missing")
        elif integrity.file_sha256(path) != entry["sha256"]:
            result.problems.append(f"{entry['path']}: sha256 differs (the file was edited after signing)")
        else:
            result.checks.append(f"{entry['path']}: sha256 matches")
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    for entry in files:
        if subjects.get(entry["path"]) != entry["sha256"]:
            result.problems.append(f"{entry['path']}: statement subject digest differs from the integrity record")
    _check_embedded_key(document, result)
    _check_watermark(folder, statement["predicate"], files, result, read, (dask, workers))
    result.unsigned = _unsigned_files(folder, [e["path"] for e in [*files, *covered]])
    result.valid = not result.problems
    return result


def _check_embedded_key(document: dict[str, Any], result: Verification) -> None:
    """The manifest's ``public_key`` is a copy for convenience, never trusted: it must be the key that signed."""
    embedded = document.get("public_key")
    if embedded is None:
        return
    try:
        key_id = signing_key_id(raw_public(public_key_from_pem(str(embedded).encode("ascii", "replace"))))
    except InputError:
        result.problems.append("public_key: the manifest's embedded public key is not a PEM Ed25519 key (edited)")
        return
    if key_id != result.key_id:
        result.problems.append(f"public_key: the manifest embeds key {key_id}, not the key that signed it (edited)")
    else:
        result.checks.append("public_key: the embedded copy is the signing key")


def _unsigned_files(folder: Path, covered: list[str]) -> list[str]:
    known = {*covered, MANIFEST}
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.relative_to(folder).as_posix() not in known
    )


def _check_signature(document: dict[str, Any], keys: dict[str, Any], result: Verification) -> bool:
    statement, signatures = document["statement"], document["signatures"]
    good = [
        s
        for s in signatures
        if isinstance(s, dict)
        and isinstance(s.get("keyid"), str)
        and s["keyid"] in keys
        and signing.verify_signature(statement, s, keys[s["keyid"]])
    ]
    if good:
        result.key_id = good[0]["keyid"]
        result.checks.append(f"signature valid (key {result.key_id})")
        return True
    named = ", ".join(str(s.get("keyid")) for s in signatures if isinstance(s, dict)) or "none"
    if not any(isinstance(s, dict) and isinstance(s.get("keyid"), str) and s["keyid"] in keys for s in signatures):
        result.problems.append(f"signature: made with key(s) {named}, not with the trusted key {', '.join(keys)}")
    else:
        result.problems.append("signature: does not match the manifest (the manifest or the signature was changed)")
    recorded = document.get("field_digests")
    recorded = recorded if isinstance(recorded, dict) else {}
    current = field_digests(statement["predicate"])
    edited = sorted(str(k) for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
    if edited:
        result.problems.append(f"manifest fields changed: {', '.join(edited)}")
    return False


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _checked_structure(document: dict[str, Any], folder: Path) -> tuple[list[dict], list[dict]]:
    """The integrity records, each field checked for type and range, each path checked to stay in ``folder``:
    anything else is an :class:`InputError` naming the field (``synthgov verify`` exits 2)."""
    statement = document["statement"]
    integrity_section = _field(statement["predicate"], "integrity", dict, "predicate")
    files = _field(integrity_section, "files", list, "predicate.integrity")
    covered = []
    for section in ("exports", "reports", "documents"):  # files covered by their sha256 alone
        entries = _field(integrity_section, section, list, "predicate.integrity", default=[])
        for i, entry in enumerate(entries):
            _covered_file(entry, folder, f"predicate.integrity.{section}[{i}]")
        covered += entries
    for i, entry in enumerate(files):
        where = f"predicate.integrity.files[{i}]"
        _covered_file(entry, folder, where)
        rows = _field(entry, "rows", int, where)
        size = _field(entry, "chunk_rows", int, where)
        if rows < 0 or size < 1:
            raise InputError(f"manifest field {where}: rows must be >= 0 and chunk_rows >= 1 (got {rows}, {size})")
        leaves = _field(entry, "chunk_hashes", list, where)
        if len(leaves) != max(1, -(-rows // size)):
            raise InputError(f"manifest field {where}.chunk_hashes: {len(leaves)} chunk digests for {rows} rows")
        for j, leaf in enumerate(leaves):
            _hex(leaf, f"{where}.chunk_hashes[{j}]")
        _hex(_field(entry, "merkle_root", str, where), f"{where}.merkle_root")
        scheme = entry.get("merkle_scheme", integrity.LEGACY_MERKLE_SCHEME)
        if scheme not in (integrity.MERKLE_SCHEME, integrity.LEGACY_MERKLE_SCHEME):
            raise InputError(f"manifest field {where}.merkle_scheme: unknown scheme {scheme!r}")
    subject = _field(statement, "subject", list, "statement")
    for i, item in enumerate(subject):
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("digest"), dict)):
            raise InputError(f"manifest field statement.subject[{i}] must be {{name, digest: {{sha256}}}}")
        _hex(item["digest"].get("sha256"), f"statement.subject[{i}].digest.sha256")
    marking = statement["predicate"].get("watermark")
    if marking is not None and not isinstance(marking, dict):
        raise InputError("manifest field predicate.watermark must be an object")
    return files, covered


def _covered_file(entry: Any, folder: Path, where: str) -> None:
    """An entry naming a file by a path inside ``folder`` and its sha256."""
    if not isinstance(entry, dict):
        raise InputError(f"manifest field {where} must be an object")
    _safe_path(_field(entry, "path", str, where), folder, where)
    _hex(_field(entry, "sha256", str, where), f"{where}.sha256")


def _field(parent: dict[str, Any], key: str, kind: type, where: str, default: Any = None) -> Any:
    if key not in parent:
        if default is not None:
            return default
        raise InputError(f"manifest field {where}.{key} is missing")
    value = parent[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"manifest field {where}.{key} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _hex(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise InputError(f"manifest field {where} must be 64 lowercase hex digits")


def _safe_path(name: str, folder: Path, where: str) -> None:
    """A relative path of plain names that resolves inside ``folder`` (no absolute path, ``..`` or link out)."""
    parts = PurePosixPath(name).parts
    if not name or "\\" in name or PurePosixPath(name).is_absolute() or any(p in ("..", ".", "") for p in parts):
        raise InputError(f"manifest field {where}.path: {name!r} is not a path inside the release folder")
    root = folder.resolve()
    if not (folder / name).resolve().is_relative_to(root):
        raise InputError(f"manifest field {where}.path: {name!r} leads outside the release folder")


def _check_watermark(
    folder: Path,
    predicate: dict[str, Any],
    files: list[dict[str, Any]],
    result: Verification,
    read: dict[str, tuple[Any, bool, bool]],
    cluster: tuple[str | None, int] = (None, 2),
) -> None:
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
    from synthgov.watermark.detect import DETECTION_THRESHOLD

    secret = store.watermark_secret()
    if watermark_key_id(secret) != marking.get("key_id"):
        result.checks.append(f"watermark: not checked (key {marking.get('key_id')} is not in this keystore)")
        return
    plans = [p for p in registry.plans_for(marking["key_id"]) if p.id == marking.get("plan_id")]
    data = [read[e["path"]] for e in files if e["path"] in read]
    if not plans:
        result.checks.append("watermark: not checked (the plan of this release is not in this keystore)")
        return
    if not data:
        result.checks.append("watermark: not checked (no data file to test)")
        return
    frame, intact, _ = data[0]
    if predicate.get("partitions") is not None:  # every readable partition, read again one at a time
        readable = [folder / e["path"] for e in files if e["path"] in read and read[e["path"]][2]]
        if not readable:
            result.checks.append("watermark: not checked (no data file can be read as a table)")
            return
        intact = len(readable) == len(files) and all(read[e["path"]][1] for e in files)
        if cluster[0] is not None:
            from synthgov.release.on_dask import detect_files

            found = detect_files(readable, plans, secret, marking["key_id"], *cluster)
        else:
            from synthgov.watermark.detect import detect_chunks

            chunks = (integrity.read_data(path) for path in readable)
            found = detect_chunks(chunks, plans, secret, marking["key_id"])
    elif frame is None:
        result.checks.append("watermark: not checked (the data file cannot be read as a table)")
        return
    else:
        found = detect(frame, plans, secret, marking["key_id"])
    if found.p_value <= DETECTION_THRESHOLD:
        result.checks.append(f"watermark: present (p = {found.p_value:.1e}); {found.payload_line()}")
    elif intact:
        # the rows are byte for byte the signed ones: a mark too weak to test is not evidence of alteration
        result.checks.append(
            f"watermark: too few rows to test (p = {found.p_value:.2g}); the rows are intact by their digest"
        )
    else:
        result.problems.append(
            f"watermark: the manifest says marked, but the data does not carry it (p = {found.p_value:.2g})"
        )


@dataclass
class FileCheck:
    """One data file checked: what held, what did not, its state (True: the signed bytes; False: changed but
    readable; None: missing or unreadable) and, when asked for, its rows."""

    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    state: bool | None = None
    rows: Any = None
    readable: bool = True


def check_data_file(entry: dict[str, Any], folder: str, keep_rows: bool = False) -> FileCheck:
    """Digest, Merkle root and row chunks of one data file (also a Dask task: it reads the file where it runs)."""
    out = FileCheck()
    scheme = entry.get("merkle_scheme", integrity.LEGACY_MERKLE_SCHEME)
    if integrity.merkle_root(entry["chunk_hashes"], scheme) != entry["merkle_root"]:
        out.problems.append(f"{entry['path']}: the Merkle root does not match the row-chunk digests ({scheme})")
    else:
        out.checks.append(f"{entry['path']}: Merkle root matches its {len(entry['chunk_hashes'])} chunk digests")
    path = Path(folder) / entry["path"]
    if not path.is_file():
        out.problems.append(f"{entry['path']}: missing")
        return out
    if integrity.file_sha256(path) == entry["sha256"]:
        out.checks.append(f"{entry['path']}: sha256 matches")
        frame = integrity.read_data(path)
        out.state, out.rows = True, frame if keep_rows else None
        leaves = integrity.chunk_hashes(frame, entry["chunk_rows"])
        if leaves != entry["chunk_hashes"]:
            out.problems.append(f"{entry['path']}: the manifest's row-chunk digests are not those of its rows")
        else:
            out.checks.append(f"{entry['path']}: {len(leaves)} row-chunk digests match the rows")
        return out
    try:
        frame = integrity.read_data(path)
    except Exception:  # unreadable after tampering
        out.problems.append(f"{entry['path']}: sha256 differs and the file cannot be read as a table")
        out.state, out.readable = False, False
        return out
    out.state, out.rows = False, frame if keep_rows else None
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
    out.problems.append("; ".join(parts))
    return out
