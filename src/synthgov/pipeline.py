"""One call from a table (or a rules spec) to a release folder: what ``synthgov generate`` runs."""

from __future__ import annotations

import hashlib
import json
import resource
import time
import uuid
from pathlib import Path
from typing import Any

from synthgov.errors import InputError
from synthgov.generators import registry
from synthgov.release.folder import Release, sign_release, write_release
from synthgov.table.io import TableLike, read_table

SPEC_SUFFIXES = (".yaml", ".yml")


def is_rules_spec(source: Any) -> bool:
    return isinstance(source, (str, Path)) and str(source).lower().endswith(SPEC_SUFFIXES)


def generate(
    source: TableLike,
    *,
    generator: str | None = None,
    rows: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    csv: bool = False,
    schema: Any = None,
    conditions: Any = None,
    params: dict[str, Any] | None = None,
    party: str | None = None,
    source_licence: str | None = None,
    evaluation: dict[str, Any] | None = None,
    watermark: bool = True,
    recipient: str | None = None,
    allow_synthetic: bool = False,
    policy: Any = None,
) -> Release:
    """Fit ``generator`` on ``source`` (a table, or a rules spec for ``rules``) and sample ``rows`` rows
    (default: as many as the input has). With ``out``, write the release folder there: the rows carry the keyed
    watermark (unless ``watermark=False``; ``recipient`` names who receives this copy, decoded from a leak) and
    the manifest is signed by the local keystore (created on first use in ``$SYNTHGOV_HOME``).

    Before fitting, the synthetic-data guard checks the table (:mod:`synthgov.collapse.guard`): one of this
    issuer's releases is refused (:class:`~synthgov.errors.RefusedError`) unless ``allow_synthetic``; then the
    manifest's lineage records its parents, generation depth and synthetic share, within ``policy`` (a
    :class:`~synthgov.collapse.guard.Policy` or a policy file; default ``$SYNTHGOV_HOME/policy.yaml``)."""
    params = dict(params or {})
    cpu_started = time.process_time()
    wall_started = time.perf_counter()
    if is_rules_spec(source):
        if generator not in (None, "rules"):
            raise InputError(f"{source} is a rules spec; it can only be used with the 'rules' generator")
        generator = "rules"
    name = generator or registry.DEFAULT_GENERATOR
    model = registry.synthesizer(name, seed=seed, **params)
    started = time.perf_counter()
    table = None
    verdict = None
    if name == "rules":
        model.fit(source)
        n_rows = rows or model.spec_.rows or 1000  # type: ignore[attr-defined]
    else:
        from synthgov.collapse.guard import enforce

        table = read_table(source)
        verdict = enforce(
            table,
            source if isinstance(source, (str, Path)) else None,
            allow_synthetic=allow_synthetic,
            policy=policy,
        )
        model.fit(table, schema)
        n_rows = rows or len(table)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    data = model.sample(n_rows, conditions=conditions)
    sample_seconds = time.perf_counter() - started
    release = Release(
        folder=Path(out) if out is not None else Path(),
        data=data,
        generator=name,
        seed=model.seed_,
        fit_seconds=fit_seconds,
        sample_seconds=sample_seconds,
    )
    if out is not None:
        release_id = str(uuid.uuid4())
        marking = _watermark(release, release_id, recipient) if watermark else None
        release.files = write_release(release.data, out, schema=getattr(model, "schema_", None), csv=csv)
        release.files += _sign(
            release,
            model,
            source,
            table,
            name,
            party,
            source_licence,
            evaluation,
            cpu_started,
            wall_started,
            release_id=release_id,
            marking=marking,
            lineage=verdict.lineage(allow_synthetic) if verdict is not None else None,
        )
        from synthgov.release import ledger

        ledger.record(
            release_id,
            release.folder / "manifest.json",
            release.data,
            [p for p in release.files if p.name.startswith("synthetic.")],
            verdict.generation_depth if verdict is not None else 0,
            table,
        )
    release.model = model
    return release


def _watermark(release: Release, release_id: str, recipient: str | None) -> dict[str, Any]:
    """Embed the keyed watermark in ``release.data`` and record the plan; the manifest's watermark section."""
    import pandas as pd

    from synthgov.release.keys import Keystore, watermark_key_id
    from synthgov.watermark import embed, make_plan, registry
    from synthgov.watermark.detect import signed_vote

    keystore = Keystore.default().ensure()
    secret = keystore.watermark_secret()
    key_id = watermark_key_id(secret)
    fingerprint = int(pd.util.hash_pandas_object(release.data, index=False).sum())
    plan = make_plan(
        release.data,
        key_id,
        release_id=release_id,
        recipient=recipient,
        plan_seed=f"{key_id}|{release.generator}|{release.seed}|{recipient}|{fingerprint}",
    )
    if not plan.carriers and not plan.category_counts:
        return {
            "embedded": False,
            "scheme": plan.scheme,
            "key_id": plan.key_id,
            "note": "no column can carry the mark (it needs a numeric column with at least 20 distinct values "
            "or a categorical column with two categories of 10 rows or more)",
        }
    release.data = embed(release.data, plan, secret)
    plan.coherence = signed_vote(release.data, plan, secret)
    registry.save(plan)
    return {
        "embedded": True,
        **plan.summary(),
        "key_id": plan.key_id,
        "plan_commitment": hashlib.sha256(json.dumps(plan.to_dict(), sort_keys=True).encode()).hexdigest(),
        "recipient": recipient,
        "detect": "synthgov detect <table> (needs this key and its plans)",
    }


def _sign(
    release: Release,
    model: Any,
    source: Any,
    table: Any,
    name: str,
    party: str | None,
    licence: str | None,
    evaluation: dict[str, Any] | None,
    cpu_started: float,
    wall_started: float,
    *,
    release_id: str,
    marking: dict[str, Any] | None,
    lineage: dict[str, Any] | None = None,
) -> list[Path]:
    from synthgov.release.keys import Keystore
    from synthgov.release.manifest import base_predicate, energy_wh, source_fingerprint

    keystore = Keystore.default().ensure()
    cpu = time.process_time() - cpu_started
    cost = {
        "cpu_seconds": round(cpu, 3),
        "gpu_seconds": 0.0,
        "wall_seconds": round(time.perf_counter() - wall_started, 3),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "energy_wh": energy_wh(cpu),
    }
    path = Path(source) if isinstance(source, (str, Path)) else None
    if name == "rules":
        source_info = {
            "name": path.name if path else None,
            "kind": "rules spec, no real data",
            "sha256": hashlib.sha256(Path(source).read_bytes()).hexdigest() if path else None,
            "licence": licence or "unspecified",
        }
    else:
        source_info = source_fingerprint(path, table, getattr(model, "schema_", None), licence)
    predicate = base_predicate(
        generator=name,
        params=_jsonable(model.get_params()),
        seed=int(model.seed_),
        keystore=keystore,
        source=source_info,
        rows=len(release.data),
        cost=cost,
        party=party,
        evaluation=evaluation,
        release_id=release_id,
        watermark=marking,
        lineage=lineage,
    )
    data_files = [p for p in release.files if p.name.startswith("synthetic.")]
    files = sign_release(release.folder, data_files, predicate, keystore)
    from synthgov.release.verify import load_manifest

    release.manifest = load_manifest(release.folder)
    return files


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        out[key] = value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)
    return out
