"""The privacy-budget ledger: what every DP release spent of each source dataset's budget.

One append-only file per source, ``$SYNTHGOV_HOME/budget/<source key>.jsonl``. The source key is a digest of the
table's content (its rows' hashes, sorted, and its column names), so the same data read from CSV or Parquet, with
its rows or columns in another order, is the same source. Each line is one event of one release:

``reserve``  written (and fsynced) before the release touches the data, with the itemised zCDP cost
             (every part of the release that reads the data is a line, and the lines add up to the total);
``commit``   written once the release folder is in place;
``void``     written when the release failed before it was published (nothing left the machine).

A reservation whose process died without either is settled on the next read: its target folder's lock is free
and the folder holds that release's manifest (``commit``) or not (``void``); for ``synthgov fit``, whether the
model file was written after the reservation. Releases compose in zCDP: the
source's spent rho is the sum of its committed and pending releases' rho; its epsilon is stated at the cap's
delta. Once a release with an RDP line (DP-SGD) is in the ledger, the source's lines compose in RDP instead
(:mod:`.rdp`: zCDP lines as rho * alpha, order by order). The cap (``max_epsilon``, with ``budget_delta``, in
the policy file) is checked under an exclusive lock on
the source's file, so two runs cannot both take the last of a budget.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgov.config import home, private_folder
from synthgov.errors import BudgetError, InputError
from synthgov.privacy import rdp
from synthgov.privacy.accounting import ACCOUNTANT
from synthgov.processes import alive

logger = logging.getLogger(__name__)

DEFAULT_BUDGET_DELTA = 1e-5


def folder() -> Path:
    return home() / "budget"


def source_key(table: pd.DataFrame) -> str:
    """The content digest of a table: independent of file format, row order and column order."""
    from synthgov.release.ledger import row_hashes

    hashes = np.sort(row_hashes(table))
    digest = hashlib.sha256(json.dumps(sorted(map(str, table.columns))).encode())
    digest.update(hashes.tobytes())
    return digest.hexdigest()


@dataclass
class Charge:
    """One release's charge against a source."""

    release_id: str
    status: str  # committed, pending (its run is still going) or void
    rho: float
    epsilon: float
    delta: float
    generator: str
    created: str
    target: str | None
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> bool:
        return self.status in ("committed", "pending")


@dataclass
class Cap:
    """The policy's cap on a source: composed epsilon at ``delta`` at most ``max_epsilon``."""

    max_epsilon: float
    delta: float = DEFAULT_BUDGET_DELTA


def spent(charges: list[Charge], delta: float = DEFAULT_BUDGET_DELTA) -> dict[str, Any]:
    """What the committed and running releases spent: rho of their zCDP lines, and epsilon at ``delta`` of all
    their lines composed (:func:`.rdp.composed`)."""
    lines = [line for c in charges if c.counts for line in c.lines]
    return {
        "rho": sum(c.rho for c in charges if c.counts),
        "epsilon": rdp.composed(lines, delta),
        "delta": delta,
        "composition": composition(lines),
    }


def composition(lines: list[dict[str, Any]]) -> str:
    """How the source's releases compose: zCDP while every line is zCDP, RDP once a line has an RDP curve."""
    if any(line.get("rdp") is not None for line in lines):
        return "RDP over the orders of synthgov.privacy.rdp (zCDP lines as rho * alpha), added up order by order"
    return "zCDP (rho adds up over the source's releases)"


def zcdp_rho(lines: list[dict[str, Any]]) -> float:
    """The rho of the zCDP lines (an RDP line has none)."""
    return float(sum(float(line["rho"]) for line in lines if line.get("rho") is not None))


@contextmanager
def _locked(key: str) -> Iterator[Path]:
    from synthgov.locks import exclusive

    path = private_folder(folder()) / f"{key}.jsonl"
    with exclusive(path.with_suffix(".lock"), f"the privacy budget of source {key[:12]}", wait_seconds=30):
        yield path


def _append(path: Path, event: dict[str, Any]) -> None:
    """One event line, on disk before this returns (a crash after it cannot lose it)."""
    line = (json.dumps(event, sort_keys=True) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    events = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            event = json.loads(text)
        except ValueError:
            # a line torn by a crash during its own write: that write never returned, so nothing relied on it
            logger.warning("privacy budget %s: line %d is unreadable and ignored", path.name, number)
            continue
        if isinstance(event, dict) and isinstance(event.get("release_id"), str):
            events.append(event)
    return events


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _settle(path: Path, events: list[dict[str, Any]]) -> list[Charge]:
    """The charges of ``events``; a reservation left by a run that is no longer running is settled for good."""
    closed = {e["release_id"]: e["event"] for e in events if e.get("event") in ("commit", "void")}
    charges = []
    for event in events:
        if event.get("event") != "reserve":
            continue
        release_id = event["release_id"]
        status = {"commit": "committed", "void": "void"}.get(closed.get(release_id, ""), "pending")
        if status == "pending":
            outcome = _outcome(event)
            if outcome is not None:
                _append(path, {"event": outcome, "release_id": release_id, "time": _now(), "settled": True})
                status = "committed" if outcome == "commit" else "void"
        charges.append(
            Charge(
                release_id=release_id,
                status=status,
                rho=float(event["rho"]),
                epsilon=float(event["epsilon"]),
                delta=float(event["delta"]),
                generator=str(event.get("generator", "")),
                created=str(event.get("time", "")),
                target=event.get("target"),
                lines=list(event.get("lines", [])),
            )
        )
    return charges


def _outcome(event: dict[str, Any]) -> str | None:
    """``commit`` or ``void`` for a reservation whose run has ended, None while it may still be running."""
    if event.get("pid") == os.getpid():
        return None  # this process's own run: it commits or voids itself
    target = event.get("target")
    if target is None:  # an in-memory release: its rows were handed over only after its commit
        return None if alive(event.get("pid")) else "void"
    target_path = Path(target)
    if event.get("target_kind") == "model":  # `synthgov fit`: the model file is the release
        if alive(event.get("pid")):
            return None
        written = target_path.is_file() and target_path.stat().st_mtime >= float(event.get("unix_time", 0)) - 1
        return "commit" if written else "void"
    from synthgov.errors import SynthgovError
    from synthgov.locks import exclusive

    if not target_path.parent.is_dir():
        return "void"  # the folder the release was to be written in is gone: no release exists
    try:
        with exclusive(target_path.parent / f".{target_path.name}.synthgov-lock", "release folder"):
            return "commit" if published(target_path, event["release_id"]) else "void"
    except SynthgovError:
        return None  # a run holds the folder: still going


def published(target: Path, release_id: str) -> bool:
    """Whether the release folder ``target`` holds the manifest of ``release_id``."""
    try:
        document = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        return document["statement"]["predicate"]["release"]["id"] == release_id
    except (OSError, ValueError, KeyError, TypeError):
        return False


def charges(key: str) -> list[Charge]:
    """Every release charged to the source ``key``, settled where its run has ended."""
    with _locked(key) as path:
        return _settle(path, _events(path))


def sources() -> list[str]:
    return sorted(p.stem for p in folder().glob("*.jsonl")) if folder().is_dir() else []


def reserve(
    key: str,
    *,
    release_id: str,
    generator: str,
    epsilon: float,
    delta: float,
    lines: list[dict[str, Any]],
    target: Path | None,
    cap: Cap | None,
    target_kind: str = "release folder",
) -> dict[str, float]:
    """Write the reservation of a release before it reads the data, or raise :class:`BudgetError` when it would
    take the source past ``cap``. Returns the source's spending with this release."""
    rho = zcdp_rho(lines)
    with _locked(key) as path:
        before = _settle(path, _events(path))
        after_rho = sum(c.rho for c in before if c.counts) + rho
        delta_cap = cap.delta if cap is not None else DEFAULT_BUDGET_DELTA
        after_lines = [line for c in before if c.counts for line in c.lines] + list(lines)
        after_epsilon = rdp.composed(after_lines, delta_cap)
        if cap is not None and after_epsilon > cap.max_epsilon + 1e-9:
            releases = sum(1 for c in before if c.counts)
            reached = (
                f"to epsilon {after_epsilon:.3g} at delta {delta_cap:g}"
                if after_epsilon < float("inf")
                else f"past the cap's delta {delta_cap:g} (the deltas of its estimated category domains add up)"
            )
            raise BudgetError(
                f"refused: this release (epsilon {epsilon:g}, delta {delta:g}) would take the source's privacy budget "
                f"{reached} over its {releases} earlier release(s), above the policy's max_epsilon "
                f"{cap.max_epsilon:g} (synthgov budget SOURCE shows them)"
            )
        _append(
            path,
            {
                "event": "reserve",
                "release_id": release_id,
                "time": _now(),
                "generator": generator,
                "epsilon": epsilon,
                "delta": delta,
                "rho": rho,
                "lines": lines,
                "accountant": rdp.ACCOUNTANT if composition(lines).startswith("RDP") else ACCOUNTANT,
                "target": str(target.resolve()) if target is not None else None,
                "target_kind": target_kind,
                "unix_time": time.time(),
                "pid": os.getpid(),
            },
        )
    logger.info("privacy budget: reserved epsilon %g (rho %.4g in zCDP lines) for release %s", epsilon, rho, release_id)
    return {"rho": after_rho, "epsilon": after_epsilon, "delta": delta_cap, "composition": composition(after_lines)}


def close(key: str, release_id: str, event: str, reason: str = "") -> None:
    """``commit`` or ``void`` a reservation of this process."""
    if event not in ("commit", "void"):
        raise InputError(f"a reservation is closed by commit or void, not {event!r}")
    with _locked(key) as path:
        _append(path, {"event": event, "release_id": release_id, "time": _now(), "reason": reason})
    logger.info("privacy budget: %s release %s %s", event, release_id, reason)
