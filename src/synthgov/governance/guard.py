"""The synthetic-data guard: before a generator is fitted, is the training table synthetic?

Three kinds of evidence, cheapest first:

1. **manifest**: the table sits in a release folder (a ``manifest.json`` beside it);
2. **ledger**: the file is one of this issuer's release files (sha256), or at least 10% of its rows (and 20
   rows) are rows of one of its releases (:mod:`synthgov.release.ledger`; shuffling, deleting rows or columns
   reordered do not hide them);
3. **watermark**: the keyed watermark of one of the plans in the keystore, at p <= 1e-6 (the p-values are
   calibrated, see docs/watermark.md; with 10,000 wrong keys none fell below 1e-6), which survives deleted
   columns, flipped categories and re-synthesis by synthgov's copula.

A synthetic table is refused unless the user allows it (``allow_synthetic``, ``--allow-synthetic``); then the
new release's manifest records the parents, generation depth (the deepest parent + 1) and the share of
synthetic rows in the training table. A :class:`Policy` can cap both even when allowed. Every decision is
appended to ``$SYNTHGOV_HOME/audit.jsonl``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgov.config import home, write_private
from synthgov.errors import InputError, RefusedError

logger = logging.getLogger(__name__)

P_THRESHOLD = 1e-6
ROW_SHARE = 0.10  # share of a table's rows that must be rows of one release
ROW_MINIMUM = 20


@dataclass
class Evidence:
    kind: str  # manifest | ledger-file | ledger-rows | watermark
    release_id: str | None
    detail: str
    generation_depth: int | None = None  # of the parent release, when known
    manifest_sha256: str | None = None
    share: float | None = None  # share of the table's rows that come from that release, when measurable
    p_value: float | None = None


@dataclass
class GuardVerdict:
    synthetic: bool
    evidence: list[Evidence] = field(default_factory=list)
    rows: int = 0
    notes: list[str] = field(default_factory=list)  # what was looked at and not taken as evidence, and why

    @property
    def parent_depth(self) -> int:
        depths = [e.generation_depth for e in self.evidence if e.generation_depth is not None]
        return max(depths) if depths else 0

    @property
    def generation_depth(self) -> int:
        """Depth of a release made from this table: 0 from real data, the deepest parent's depth + 1 from
        synthetic data (a release is depth 0 when its source was real)."""
        return self.parent_depth + 1 if self.synthetic else 0

    @property
    def synthetic_share(self) -> float:
        """Share of synthetic rows: the sum over parent releases of their measured shares (a table named
        synthetic by its manifest or file digest counts as wholly synthetic). Per release, an exact count
        (manifest, file digest, rows found in the ledger) wins over the watermark's statistical estimate. A hybrid
        release's manifest or file counts for its declared share of generated rows."""
        if not self.synthetic:
            return 0.0
        exact: dict[str, float] = {}
        estimated: dict[str, float] = {}
        for e in self.evidence:
            share = (e.share if e.share is not None else 1.0) if e.kind in ("manifest", "ledger-file") else e.share
            if share is None:
                continue
            key = e.release_id or e.detail
            target = estimated if e.kind == "watermark" else exact
            target[key] = max(target.get(key, 0.0), share)
        best = {**estimated, **exact}
        return float(min(1.0, sum(best.values()))) if best else 1.0

    def parents(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for e in self.evidence:
            key = e.release_id or e.detail
            entry = seen.setdefault(
                key, {"release_id": e.release_id, "manifest_sha256": None, "generation_depth": None, "evidence": []}
            )
            entry["manifest_sha256"] = entry["manifest_sha256"] or e.manifest_sha256
            if e.generation_depth is not None:
                entry["generation_depth"] = e.generation_depth
            entry["evidence"].append(e.kind if e.p_value is None else f"{e.kind} (p={e.p_value:.1e})")
        return list(seen.values())

    def lineage(self, allowed: bool) -> dict[str, Any]:
        """The manifest's lineage section for a release trained on this table."""
        return {
            "parents": self.parents(),
            "generation_depth": self.generation_depth,
            "synthetic_share_of_training": round(self.synthetic_share, 4),
            "synthetic_input_allowed": allowed if self.synthetic else None,
        }

    def describe(self) -> str:
        if not self.synthetic:
            return f"no sign of synthetic data in {self.rows:,} rows (manifest, ledger and watermark checked)"
        reasons = "; ".join(e.detail for e in self.evidence)
        return f"synthetic (about {self.synthetic_share:.0%} of its rows): {reasons}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "synthetic": self.synthetic,
            "rows": self.rows,
            "generation_depth_of_a_model_trained_on_it": self.generation_depth,
            "synthetic_share": round(self.synthetic_share, 4),
            "evidence": [asdict(e) for e in self.evidence],
            "notes": self.notes,
        }


@dataclass
class Policy:
    """Caps on what a release may be trained on (``policy.yaml`` in ``$SYNTHGOV_HOME``, or ``--policy FILE``):
    ``max_generation_depth`` (0: releases only from real data) and ``max_synthetic_share``; and the privacy budget
    of each source, ``max_epsilon`` at ``budget_delta`` (:mod:`synthgov.privacy.budget`); the privacy filter's
    ``privacy_filter_distance`` (:mod:`synthgov.pipeline.filtering`); the drift monitor's thresholds, ``drift``
    (:mod:`synthgov.governance.drift`)."""

    max_generation_depth: int | None = None
    max_synthetic_share: float | None = None
    max_epsilon: float | None = None
    budget_delta: float | None = None
    privacy_filter_distance: float | None = None
    drift: dict[str, float] | None = None  # the drift monitor's thresholds (synthgov.governance.drift.Thresholds)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        source = Path(path) if path is not None else home() / "policy.yaml"
        if path is None and not source.exists():
            return cls()
        try:
            import yaml

            data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the policy file {source}: {exc}") from None
        except Exception as exc:  # yaml.YAMLError has no common base with ValueError
            raise InputError(f"policy file {source} is not valid YAML: {str(exc).splitlines()[0]}") from None
        from synthgov.file_models import PolicyFile, check

        checked = check(PolicyFile, data, f"policy file {source}")
        return cls(
            checked.max_generation_depth,  # type: ignore[attr-defined]
            checked.max_synthetic_share,  # type: ignore[attr-defined]
            checked.max_epsilon,  # type: ignore[attr-defined]
            checked.budget_delta,  # type: ignore[attr-defined]
            checked.privacy_filter_distance,  # type: ignore[attr-defined]
            checked.drift.model_dump(exclude_none=True) if checked.drift is not None else None,  # type: ignore[attr-defined]
        )

    def violations(self, verdict: GuardVerdict) -> list[str]:
        out = []
        if self.max_generation_depth is not None and verdict.generation_depth > self.max_generation_depth:
            out.append(f"generation depth {verdict.generation_depth} > policy maximum {self.max_generation_depth}")
        if self.max_synthetic_share is not None and verdict.synthetic_share > self.max_synthetic_share + 1e-9:
            out.append(f"synthetic share {verdict.synthetic_share:.0%} > policy maximum {self.max_synthetic_share:.0%}")
        return out


def inspect_table(table: pd.DataFrame, path: str | Path | None = None) -> GuardVerdict:
    """Every piece of evidence that ``table`` (read from ``path``, when given) is one of this issuer's releases."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"the guard needs a table (pandas DataFrame), got {type(table).__name__}")
    return inspect_chunks([table], path)


def inspect_chunks(chunks: Iterable[pd.DataFrame], path: str | Path | None = None) -> GuardVerdict:
    """:func:`inspect_table` of the table made of ``chunks``, read one at a time (a partitioned dataset): the
    ledger's row matches and the watermark's evidence are sums over the chunks, so the verdict is the whole
    table's."""
    entries = _ledger()
    notes: list[str] = []
    evidence = _manifest_evidence(Path(path), notes) if path is not None else []
    scan = _Scan(entries, Path(path) if path is not None else None)
    for chunk in chunks:
        scan.add(chunk)
    evidence += scan.ledger_evidence()
    evidence += scan.watermark_evidence()
    ledger = {e["release_id"]: e for e in entries}
    for e in evidence:  # the ledger knows every release's depth and manifest digest
        known = ledger.get(e.release_id or "")
        if known:
            e.generation_depth = e.generation_depth if e.generation_depth is not None else known["generation_depth"]
            e.manifest_sha256 = e.manifest_sha256 or known["manifest_sha256"]
    for note in notes:
        logger.info("guard: %s", note)
    return GuardVerdict(bool(evidence), evidence, scan.rows, notes)


def enforce(
    table: pd.DataFrame,
    path: str | Path | None = None,
    *,
    allow_synthetic: bool = False,
    policy: Policy | str | Path | None = None,
) -> GuardVerdict:
    """Inspect ``table``; refuse a synthetic one unless allowed, and anything a policy forbids."""
    verdict = inspect_table(table, path)
    rules = policy if isinstance(policy, Policy) else Policy.load(policy)
    problems = []
    if verdict.synthetic and not allow_synthetic:
        problems.append(
            f"the training table is {verdict.describe()}. Training on synthetic data compounds its errors "
            "(model collapse); pass --allow-synthetic (allow_synthetic=True) to do it knowingly, and the release "
            f"will record generation depth {verdict.generation_depth}"
        )
    elif verdict.synthetic:
        problems += rules.violations(verdict)
    _audit(table, path, verdict, allow_synthetic, problems)
    logger.info("guard decision: %s (%s)", "refused" if problems else "accepted", verdict.describe())
    if problems:
        raise RefusedError("refused: " + "; ".join(problems))
    return verdict


def _manifest_evidence(path: Path, notes: list[str]) -> list[Evidence]:
    """A manifest beside the table is evidence only when this issuer's key signed it: an unsigned or forged
    one could claim any lineage (a forged depth would flow into the next signed manifest), so it is noted and
    left out."""
    import hashlib

    from synthgov.release import signing
    from synthgov.release.keys import Keystore

    folder = path if path.is_dir() else path.parent
    if folder.name == "synthetic" and not (folder / "manifest.json").is_file():
        folder = folder.parent  # a partitioned release's data folder: its manifest is beside it
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return []
    raw = manifest.read_bytes()
    keystore = Keystore.default()
    try:
        document = json.loads(raw)
        statement = document["statement"]
        predicate = statement["predicate"]
        release_id = str(predicate["release"]["id"])
        depth = int(predicate.get("lineage", {}).get("generation_depth", 0))
        share = generated_share(predicate.get("hybrid"))
        key = keystore.public_key() if keystore.exists() else None
        signed = key is not None and any(
            isinstance(s, dict) and signing.verify_signature(statement, s, key) for s in document["signatures"]
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        notes.append(f"{manifest} is beside the table but unreadable: not used as evidence")
        return []
    if not signed:
        notes.append(f"{manifest} is beside the table but not signed by this keystore's key: not used as evidence")
        return []
    return [
        Evidence(
            "manifest",
            release_id,
            f"it is in release folder {folder} (release {release_id}, depth {depth}, signature verified"
            + (f"; a hybrid release, {share:.0%} of its rows generated" if share is not None else "")
            + ")",
            generation_depth=depth,
            manifest_sha256=hashlib.sha256(raw).hexdigest(),
            share=share,
        )
    ]


def generated_share(hybrid: Any) -> float | None:
    """The share of generated rows a hybrid release declares (its manifest's ``hybrid`` section); None for a
    fully synthetic release."""
    if not isinstance(hybrid, dict):
        return None
    try:
        real, generated = int(hybrid["real_rows"]), int(hybrid["synthetic_rows"])
    except (KeyError, TypeError, ValueError):
        return None
    return generated / (real + generated) if real + generated > 0 else None


def _ledger() -> list[dict[str, Any]]:
    from synthgov.release import ledger

    return ledger.entries()


class _Scan:
    """What the guard sums over a table's chunks: its rows, the rows of each ledger release's sketch it holds, and
    each watermark plan's evidence."""

    def __init__(self, entries: list[dict[str, Any]], path: Path | None) -> None:
        from synthgov.release.integrity import file_sha256

        self.entries = entries
        self.digest = file_sha256(path) if entries and path is not None and path.is_file() else None
        self.rows = 0
        self.columns: list[str] | None = None
        self.matched: dict[str, list[int]] = {}  # release id -> [sketched rows of the table, of them in the release]
        self.sketches: dict[str, Any] = {}
        self.plans: list[Any] = []
        self.evidence: list[Any] = []

    def add(self, chunk: pd.DataFrame) -> None:
        from synthgov.release import ledger

        if self.columns is None:
            self.columns = sorted(map(str, chunk.columns))
            self._start(chunk)
        self.rows += len(chunk)
        if len(chunk) == 0:
            return
        hashes = ledger.row_hashes(chunk) if self.matched else None
        for release_id, counts in self.matched.items():
            kept = ledger.selected(hashes, int(self.shift[release_id]))
            counts[0] += len(kept)
            counts[1] += int(np.isin(kept, self.sketches[release_id]).sum())
        for one in self.evidence:
            one.add(chunk)

    def _start(self, first: pd.DataFrame) -> None:
        """The ledger releases whose rows the table may hold (same columns, distinctive rows, a sketch), and the
        watermark plans of this keystore's key with a carrier among its columns."""
        from synthgov.release import ledger

        self.shift: dict[str, int] = {}
        for entry in self.entries:
            if self.digest is not None and self.digest in entry.get("data_sha256", []):
                continue  # the file itself is the release's: evidence without reading its rows
            if not entry.get("distinctive_rows", True) or entry.get("columns") != self.columns:
                continue
            known = ledger.sketch(entry["release_id"])
            if known is not None:
                self.sketches[entry["release_id"]] = known
                self.shift[entry["release_id"]] = int(entry["sketch_shift"])
                self.matched[entry["release_id"]] = [0, 0]
        from synthgov.release.keys import Keystore, watermark_key_id
        from synthgov.watermark import registry
        from synthgov.watermark.evidence import Evidence as Sums

        keystore = Keystore.default()
        if keystore.exists():
            secret = keystore.watermark_secret()
            names = set(map(str, first.columns))
            self.plans = [p for p in registry.plans_for(watermark_key_id(secret)) if set(p.carriers) & names]
            self.evidence = [Sums(plan, secret) for plan in self.plans]

    def ledger_evidence(self) -> list[Evidence]:
        out = []
        for entry in self.entries:
            if self.digest is not None and self.digest in entry.get("data_sha256", []):
                share = entry.get("generated_share")
                out.append(
                    Evidence(
                        "ledger-file",
                        entry["release_id"],
                        f"the file is release {entry['release_id']}'s",
                        share=1.0 if share is None else float(share),
                    )
                )
                continue
            kept, matched = self.matched.get(entry["release_id"], (0, 0))
            if kept == 0:
                continue
            share = matched / kept
            if share >= ROW_SHARE and matched >= ROW_MINIMUM:
                out.append(
                    Evidence(
                        "ledger-rows",
                        entry["release_id"],
                        f"{share:.0%} of its rows are rows of release {entry['release_id']}",
                        share=share,
                    )
                )
        return out

    def watermark_evidence(self) -> list[Evidence]:
        if self.rows == 0:
            return []
        out = []
        for one in self.evidence:
            plan = one.plan
            p = float(min(1.0, np.exp(one.result()["log_p"]) * len(self.plans)))
            if p <= P_THRESHOLD:
                share = None
                if plan.coherence:
                    share = float(np.clip(one.signed_vote() / plan.coherence, 0.0, 1.0))
                out.append(
                    Evidence(
                        "watermark",
                        plan.release_id,
                        f"it carries the watermark of release {plan.release_id} (p = {p:.1e})",
                        share=share,
                        p_value=p,
                    )
                )
        return out


def _audit(table: pd.DataFrame, path: Any, verdict: GuardVerdict, allowed: bool, problems: list[str]) -> None:
    """Append the decision to ``$SYNTHGOV_HOME/audit.jsonl`` (only once the keystore exists: a first run on real
    data leaves no trace)."""
    if not verdict.synthetic and not verdict.notes and not (home() / "keys").exists():
        return
    from synthgov.release.ledger import row_hashes

    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "event": "training-table check",
        "path": None if path is None else str(path),
        "rows": len(table),
        "table_hash": f"{int(np.bitwise_xor.reduce(row_hashes(table))) if len(table) else 0:016x}",
        "synthetic": verdict.synthetic,
        "evidence": [e.kind for e in verdict.evidence],
        "not_evidence": verdict.notes,
        "allow_synthetic": allowed,
        "decision": "refused" if problems else "accepted",
        "reasons": problems,
    }
    write_private(home() / "audit.jsonl", (json.dumps(entry) + "\n").encode("utf-8"), append=True)
