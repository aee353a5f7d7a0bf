"""Audits of a release against a policy of clauses, and the signed audit certificate (``synthgov audit``).

An audit verifies the release (signature, digests, rows, watermark), gathers its *facts*: what its signed manifest
states (``release.*``: generator, epsilon, watermark, lineage, intended use, licence...) and what an evaluation
measured (``fidelity.*``, ``utility.*``, ``privacy.*``, ``bias.*``: the paths of report.json). The evaluation is
run here when the real table is given, else the release's own signed report is reused, else there is none. Each
clause tests one fact (``min``, ``max``, ``equals``, ``one_of`` or ``required``); a fact that was not measured
fails its clause (an auditor signs only what was checked). The certificate is an in-toto Statement whose subject
is the release's manifest, signed with this keystore's Ed25519 key (DSSE, as the manifest): each clause with its
measured value, threshold and outcome, the policy's digest, the evaluation's source, who audited and when.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

PREDICATE_TYPE = "https://synthgov.dev/audit/v1"
SHIPPED = ("internal-sharing", "public-release", "regulated-health")
TESTS = ("min", "max", "equals", "one_of", "required")


# -- the policy ---------------------------------------------------------------------------------------------------
@dataclass
class AuditPolicy:
    name: str
    description: str
    clauses: list[dict[str, Any]]
    source: str
    sha256: str

    @classmethod
    def load(cls, policy: str | Path) -> AuditPolicy:
        """A policy file, or the name of a shipped policy (``synthgov audit --policy public-release``)."""
        import yaml

        from synthgov.file_models import AuditPolicyFile, check

        text, source = _policy_text(policy)
        try:
            data = yaml.safe_load(text)
        except Exception as exc:  # yaml.YAMLError has no common base with ValueError
            raise InputError(f"audit policy {source} is not valid YAML: {str(exc).splitlines()[0]}") from None
        checked = check(AuditPolicyFile, data, f"audit policy {source}")
        clauses = [c.model_dump(exclude_none=True) for c in checked.clauses]  # type: ignore[attr-defined]
        seen: set[str] = set()
        for clause in clauses:
            tests = [t for t in TESTS if t in clause]
            if len(tests) != 1:
                raise InputError(
                    f"audit policy {source}: clause '{clause['id']}' needs exactly one of {', '.join(TESTS)}, "
                    f"got {', '.join(tests) or 'none'}"
                )
            if clause["id"] in seen:
                raise InputError(f"audit policy {source}: clause id '{clause['id']}' is used twice")
            seen.add(clause["id"])
        return cls(
            name=checked.name,  # type: ignore[attr-defined]
            description=checked.description,  # type: ignore[attr-defined]
            clauses=clauses,
            source=source,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
        )


def _policy_text(policy: str | Path) -> tuple[str, str]:
    path = Path(policy)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the audit policy {path}: {exc}") from None
    if str(policy) in SHIPPED:
        text = resources.files("synthgov").joinpath("policies", f"{policy}.yaml").read_text(encoding="utf-8")
        return text, f"shipped policy {policy}"
    raise InputError(f"audit policy {policy!s}: no such file, and not a shipped policy (shipped: {', '.join(SHIPPED)})")


# -- the facts ----------------------------------------------------------------------------------------------------
def release_facts(predicate: dict[str, Any], verified: bool) -> dict[str, Any]:
    """What a verified manifest states, as ``release.*`` facts."""
    privacy = predicate.get("privacy") or {}
    hybrid = predicate.get("hybrid") or {}
    watermark = predicate.get("watermark") or {}
    lineage = predicate.get("lineage") or {}
    source = predicate.get("source") or {}
    use = predicate.get("use") or {}
    licence = source.get("licence")
    return {
        "release.verified": verified,
        "release.signed": verified,
        "release.watermarked": bool(watermark.get("embedded")),
        "release.generator": (predicate.get("generator") or {}).get("name"),
        "release.synthetic_category": predicate.get("synthetic_category"),
        "release.epsilon": privacy.get("epsilon"),
        "release.delta": privacy.get("delta"),
        "release.differentially_private": privacy.get("epsilon") is not None,
        "release.real_share": float(hybrid.get("real_share", 0.0)) if hybrid else 0.0,
        "release.generation_depth": lineage.get("generation_depth"),
        "release.synthetic_share_of_training": lineage.get("synthetic_share_of_training"),
        "release.intended_use": use.get("intended_use"),
        "release.licence": None if licence in (None, "", "unspecified") else licence,
        "release.rows": (predicate.get("release") or {}).get("rows"),
    }


def report_facts(report: dict[str, Any] | None) -> dict[str, Any]:
    """Every scalar of an evaluation report's sections, by dotted path (``privacy.mia_auc``)."""
    out: dict[str, Any] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}")
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[path] = value

    for section in ("fidelity", "utility", "privacy", "bias", "edge_cases"):
        if isinstance((report or {}).get(section), dict):
            walk(report[section], section)  # type: ignore[index]
    return out


def matching(facts: dict[str, Any], pattern: str) -> dict[str, Any]:
    """The facts a clause's path names (``*`` matches one whole level)."""
    if "*" not in pattern:
        return {pattern: facts[pattern]} if pattern in facts else {}
    parts = pattern.split(".")
    return {
        key: value
        for key, value in facts.items()
        if len(key.split(".")) == len(parts)
        and all(p == "*" or p == k for p, k in zip(parts, key.split("."), strict=True))
    }


# -- the clauses --------------------------------------------------------------------------------------------------
def check_clause(clause: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The outcome of one clause: ``passed``, the ``measured`` value(s) and why."""
    test = next(t for t in TESTS if t in clause)
    threshold = clause[test]
    found = {k: v for k, v in matching(facts, clause["fact"]).items() if v is not None}
    result: dict[str, Any] = {"id": clause["id"], "fact": clause["fact"], "test": test, "threshold": threshold}
    if clause.get("description"):
        result["description"] = clause["description"]
    if not found:
        reason = (
            "not stated in the release's manifest"
            if clause["fact"].startswith("release.")
            else "not measured in this audit (give --real, and --holdout / --target / --sensitive as it needs)"
        )
        result.update(passed=False, measured=None, reason=reason)
        return result
    failures = [key for key, value in found.items() if not _passes(test, threshold, value)]
    result["measured"] = found if "*" in clause["fact"] else next(iter(found.values()))
    result["passed"] = not failures
    result["reason"] = "ok" if not failures else f"{', '.join(failures)} outside the threshold"
    return result


def _passes(test: str, threshold: Any, value: Any) -> bool:
    if test == "required":
        return bool(value) if threshold else True
    if test == "equals":
        return value == threshold
    if test == "one_of":
        return str(value) in threshold
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value >= threshold if test == "min" else value <= threshold


# -- the audit ----------------------------------------------------------------------------------------------------
@dataclass
class AuditResult:
    certificate: dict[str, Any]
    clauses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c["passed"] for c in self.clauses)


def audit(
    release: str | Path,
    policy: str | Path,
    *,
    real: Any = None,
    holdout: Any = None,
    target: str | None = None,
    sensitive: list[str] | None = None,
    auditor: str | None = None,
    seed: int = 0,
    public_key: Path | None = None,
    keystore: Any = None,
) -> AuditResult:
    """Audit the release folder ``release`` against ``policy`` (see the module docstring); the release is verified
    with ``public_key`` (default: this keystore's key) and the certificate signed with ``keystore`` (default: this
    keystore, ``$SYNTHGOV_HOME``)."""
    from synthgov.release import signing
    from synthgov.release.keys import Keystore
    from synthgov.release.verify import load_manifest, verify_release

    folder = Path(release)
    rules = AuditPolicy.load(policy)
    verification = verify_release(folder, public_key=public_key)
    document = load_manifest(folder)
    predicate = document["statement"]["predicate"]
    facts = release_facts(predicate, verification.valid)
    evaluation = _evaluation(folder, predicate, verification.valid, real, holdout, target, sensitive, seed)
    facts.update(report_facts(evaluation.get("report")))
    clauses = [check_clause(clause, facts) for clause in rules.clauses]
    keystore = keystore if keystore is not None else Keystore.default().ensure()
    key_id = keystore.index()["signing_key_id"]
    manifest_digest = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    statement = {
        "_type": signing.STATEMENT_TYPE,
        "subject": [{"name": "manifest.json", "digest": {"sha256": manifest_digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "audit": {
                "id": str(uuid.uuid4()),
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "auditor": auditor or f"{getpass.getuser()}@{socket.gethostname()}",
                "key_id": key_id,
                "tool": _version(),
            },
            "release": {
                "id": (predicate.get("release") or {}).get("id"),
                "folder": str(folder.resolve()),
                "verified": verification.valid,
                "verification_problems": verification.problems,
                "issuer_key_id": verification.key_id,
            },
            "policy": {"name": rules.name, "source": rules.source, "sha256": rules.sha256},
            "evaluation": {k: v for k, v in evaluation.items() if k != "report"},
            "clauses": clauses,
            "passed": all(c["passed"] for c in clauses),
            "summary": f"{sum(c['passed'] for c in clauses)} of {len(clauses)} clauses pass",
        },
    }
    signature = signing.sign(statement, keystore.signing_key(), key_id)
    certificate = {
        "statement": statement,
        "signatures": [signature],
        "public_key": keystore.public_pem().decode("ascii"),
    }
    logger.info("audit of %s against %s: %s", folder, rules.name, statement["predicate"]["summary"])
    return AuditResult(certificate=certificate, clauses=clauses)


def _evaluation(
    folder: Path,
    predicate: dict[str, Any],
    verified: bool,
    real: Any,
    holdout: Any,
    target: str | None,
    sensitive: list[str] | None,
    seed: int,
) -> dict[str, Any]:
    """The evaluation the audit reads: run here (the real table given), the release's signed report, or none."""
    if real is not None:
        from synthgov.evaluation import evaluate

        data = folder / predicate["integrity"]["files"][0]["path"]
        result = evaluate(real, data, holdout, target=target, sensitive=sensitive or [], seed=seed)
        return {
            "source": "run by this audit",
            "seed": seed,
            "holdout": holdout is not None,
            "target": target,
            "sensitive": list(sensitive or []),
            "report_sha256": hashlib.sha256(json.dumps(result.report, sort_keys=True).encode()).hexdigest(),
            "report": result.report,
        }
    report_path = folder / "report" / "report.json"
    signed = {e.get("path"): e.get("sha256") for e in (predicate.get("integrity") or {}).get("reports", [])}
    if verified and report_path.is_file() and "report/report.json" in signed:
        digest = hashlib.sha256(report_path.read_bytes()).hexdigest()
        if digest == signed["report/report.json"]:  # verification checked it too; the audit reads what it signs
            return {
                "source": "the release's signed report (report/report.json)",
                "report_sha256": digest,
                "report": json.loads(report_path.read_text(encoding="utf-8")),
            }
    return {"source": "none (give the real table to evaluate; measured clauses fail as not measured)"}


def _version() -> str:
    from synthgov import __version__

    return f"synthgov {__version__}"


# -- checking a certificate ---------------------------------------------------------------------------------------
def verify_certificate(path: str | Path, public_key: Path | None = None) -> tuple[bool, list[str]]:
    """Whether the certificate at ``path`` is signed by a trusted key (the keystore's, or ``public_key``), and
    still matches its release's manifest when that folder is here. Returns (valid, problems)."""
    from synthgov.release import signing
    from synthgov.release.verify import trusted_keys

    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        statement = document["statement"]
        signatures = document["signatures"]
        predicate = statement["predicate"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{path} is not a synthgov audit certificate (statement or signatures missing)") from None
    if statement.get("predicateType") != PREDICATE_TYPE:
        kind = statement.get("predicateType")
        raise InputError(f"{path} is not a synthgov audit certificate (predicate type {kind})")
    problems = []
    keys = trusted_keys(public_key)
    if not keys:
        raise InputError("no public key to verify with: pass --public-key with the auditor's public key")
    good = [
        s for s in signatures if isinstance(s, dict) and s.get("keyid") in keys
        and signing.verify_signature(statement, s, keys[s["keyid"]])
    ]  # fmt: skip
    if not good:
        problems.append("signature: no valid signature by a trusted key (edited, or signed by another key)")
    folder = Path(str((predicate.get("release") or {}).get("folder", "")))
    manifest = folder / "manifest.json"
    if folder.is_dir() and manifest.is_file():
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        if digest != statement["subject"][0]["digest"]["sha256"]:
            problems.append(f"release: {manifest} is not the manifest that was audited (changed since)")
    return not problems, problems
