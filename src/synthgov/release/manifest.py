"""The provenance manifest of a release: what was made, from what, how, by whom, at what cost, and its
integrity (per-file sha256 and row-chunk Merkle roots), as an in-toto Statement signed with the keystore's key.

``manifest.json`` holds ``{"payloadType", "statement", "signatures", "field_digests"}``: the statement in
readable form (its signature is over the RFC 8785 canonical bytes, see :mod:`signing`), and a digest of each
top-level predicate field, so a verifier can name the field that was edited.
"""

from __future__ import annotations

import hashlib
import json
import platform
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthgov import __version__
from synthgov.config import write_private
from synthgov.release import integrity, signing
from synthgov.release.keys import Keystore, raw_public, signing_key_id

MANIFEST = "manifest.json"
DATASHEET = "datasheet.md"
COVERED_DOCUMENTS = (DATASHEET, "schema.yaml", "model.synthgov")  # covered by their sha256 when the release has them


def seed_commitment(seed: int, keystore: Keystore, release_id: str) -> str:
    """sha256(nonce || seed): binds the release to its seed without revealing it; the nonce stays in the
    keystore (``commitments/<release id>.json``) so the owner can open the commitment later."""
    nonce = secrets.token_bytes(16)
    folder = keystore.folder.parent / "commitments"
    write_private(folder / f"{release_id}.json", json.dumps({"seed": seed, "nonce": nonce.hex()}).encode())
    return "sha256:" + hashlib.sha256(nonce + str(seed).encode()).hexdigest()


def field_digests(predicate: dict[str, Any]) -> dict[str, str]:
    return {k: hashlib.sha256(signing.canonical(v)).hexdigest() for k, v in predicate.items()}


def build_and_sign(
    folder: Path,
    *,
    data_files: list[Path],
    predicate: dict[str, Any],
    keystore: Keystore,
    reports: list[Path] | None = None,
    entries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Complete ``predicate`` with the integrity section, sign it, and write manifest.json. ``reports`` (the
    evaluation's files, inside ``folder``) are covered by their sha256 like the exports. ``entries``: the data
    files' integrity records when they were made as the files were written (a partitioned release)."""
    from synthgov.release.exports import write_exports

    if entries is None:
        entries = [integrity.data_entry(path) for path in data_files]
    covered = [{"path": p.relative_to(folder).as_posix(), "sha256": integrity.file_sha256(p)} for p in (reports or [])]
    predicate = {**predicate, "integrity": {"files": entries, "reports": covered}}
    exports = write_exports(folder, predicate, (predicate.get("source") or {}).get("schema"))
    predicate["integrity"]["exports"] = [{"path": p.name, "sha256": integrity.file_sha256(p)} for p in exports]
    # the datasheet (rendered from the predicate as it stands, so it cannot hold its own digest) and the schema
    # file are covered too: an edited datasheet or schema fails verify like an edited export
    (folder / DATASHEET).write_text(datasheet({"statement": {"predicate": predicate}}), encoding="utf-8")
    documents = [folder / name for name in COVERED_DOCUMENTS if (folder / name).is_file()]
    predicate["integrity"]["documents"] = [{"path": p.name, "sha256": integrity.file_sha256(p)} for p in documents]
    statement = {
        "_type": signing.STATEMENT_TYPE,
        "subject": [{"name": e["path"], "digest": {"sha256": e["sha256"]}} for e in entries],
        "predicateType": signing.PREDICATE_TYPE,
        "predicate": predicate,
    }
    private = keystore.signing_key()
    key_id = signing_key_id(raw_public(private.public_key()))  # type: ignore[attr-defined]
    document = {
        "payloadType": signing.PAYLOAD_TYPE,
        "statement": statement,
        "signatures": [signing.sign(statement, private, key_id)],
        "field_digests": field_digests(predicate),
        "public_key": keystore.public_pem().decode("ascii"),
    }
    (folder / MANIFEST).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def base_predicate(
    *,
    generator: str,
    params: dict[str, Any],
    seed: int,
    keystore: Keystore,
    source: dict[str, Any],
    rows: int,
    cost: dict[str, Any],
    party: str | None = None,
    intended_use: str | None = None,
    limitations: list[str] | None = None,
    evaluation: dict[str, Any] | None = None,
    release_id: str | None = None,
    watermark: dict[str, Any] | None = None,
    lineage: dict[str, Any] | None = None,
    copies: dict[str, Any] | None = None,
) -> dict[str, Any]:
    release_id = release_id or str(uuid.uuid4())
    keys = keystore.index()
    return {
        "release": {
            "id": release_id,
            "version": "1",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": rows,
        },
        "accountable_party": party or keys.get("owner") or "unspecified (set with --party)",
        "generator": {"name": generator, "version": __version__, "parameters": params},
        "code": {"package": "synthgov", "version": __version__, "python": platform.python_version()},
        "seed_commitment": seed_commitment(seed, keystore, release_id),
        "source": source,
        "synthetic_category": "fully synthetic",
        "privacy": {"mechanism": "none", "epsilon": None, "delta": None},
        "copies": copies,
        "evaluation": evaluation,
        "watermark": watermark
        or {"embedded": False, "scheme": None, "key_id": None, "note": "released unmarked (--no-watermark)"},
        "signing_key_id": keys["signing_key_id"],
        "compute": cost,
        "lineage": lineage or {"parents": [], "generation_depth": 0, "synthetic_share_of_training": 0.0},
        "use": {
            "intended_use": intended_use or "analysis, testing and model development without access to the real rows",
            "limitations": limitations
            or [
                "statistical fidelity is approximate: check the evaluation report before relying on rare patterns",
                "not a substitute for the real data in decisions about the individuals it describes",
            ],
        },
    }


def source_fingerprint(path: Path | None, frame: Any, schema: Any, licence: str | None) -> dict[str, Any]:
    if path is not None and Path(path).is_file():
        digest = integrity.file_sha256(Path(path))
        name = Path(path).name
    else:
        text = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
        digest, name = hashlib.sha256(text).hexdigest(), None
    return {
        "name": name,
        "sha256": digest,
        "rows": len(frame) if frame is not None else None,
        "columns": int(frame.shape[1]) if frame is not None else None,
        "schema": schema.to_dict() if schema is not None else None,
        "licence": licence or "unspecified",
    }


def _watermark_line(marking: dict[str, Any]) -> str:
    if not marking.get("embedded"):
        return "none (" + str(marking.get("note", "unmarked")) + ")"
    return f"{marking['scheme']}, key `{marking['key_id']}`, carriers {', '.join(marking.get('carriers', {}))}"


def datasheet(document: dict[str, Any]) -> str:
    """A human-readable datasheet from the signed statement."""
    p = document["statement"]["predicate"]
    files = "\n".join(f"| {f['path']} | {f['rows']:,} | `{f['sha256'][:16]}…` |" for f in p["integrity"]["files"])
    quality = _quality_lines(p.get("evaluation"))
    src = p["source"]
    return f"""# Datasheet: synthetic release {p["release"]["id"]}

Synthetic data made by synthgov {p["code"]["version"]} with the `{p["generator"]["name"]}` generator on
{p["release"]["created"]}; accountable party: {p["accountable_party"]}. Signed with key `{p["signing_key_id"]}`
(verify: `synthgov verify <this folder>`).

## Composition
{p["release"]["rows"]:,} rows; {p["synthetic_category"]}. {_composition_line(p)} {copies_sentence(p.get("copies"))}
{_filter_line(p.get("privacy_filter"))}
{_rules_line(p.get("value_rules"))}
{_fairness_line(p.get("fairness"))}

| file | rows | sha256 |
|---|---|---|
{files}

## Source data
{_source_line(src)}

## Process
Generator parameters: `{json.dumps(p["generator"]["parameters"], sort_keys=True)}`; seed committed as
`{p["seed_commitment"]}`; privacy: {_privacy_line(p["privacy"])}; generation depth
{p["lineage"]["generation_depth"]} ({_lineage_line(p["lineage"])}); watermark: {_watermark_line(p["watermark"])}.
Compute (measured; methods in the manifest's `compute.methods`): {_compute_line(p["compute"])}.

## Quality
{quality}

## Uses and limitations
Intended use: {p["use"]["intended_use"]}.
{chr(10).join("- " + item for item in p["use"]["limitations"])}
"""


def _composition_line(p: dict[str, Any]) -> str:
    partial, hybrid = p.get("partial"), p.get("hybrid")
    if hybrid:
        return (
            f"{hybrid['real_rows']:,} rows ({hybrid['real_share']:.2%}) are real rows of the source table, "
            f"{hybrid['synthetic_rows']:,} were generated; which are which is known only to the key holder "
            f"(identifier, personal-data and text columns of the real rows were generated too; the watermark, when "
            f"embedded, is in every row)."
        )
    if not partial:
        return (
            "Every row was generated (identifiers are made fresh, personal data columns are filled with fake values, "
            "free text comes from a word model)."
        )
    listed = {key: ", ".join(partial[key]) or "none" for key in ("replaced", "pseudonymised", "kept")}
    return (
        f"Each row is a real row with these columns drawn from the model given its other values: {listed['replaced']}; "
        f"direct identifiers replaced by keyed pseudonyms: {listed['pseudonymised']}; real values kept: "
        f"{listed['kept']}."
    )


def _filter_line(section: dict[str, Any] | None) -> str:
    if not section:
        return "No privacy filter was applied."
    return (
        f"Privacy filter: {section['rows_close_at_first']:,} rows sat closer to a training row than "
        f"{section['threshold']:.4g} ({section['threshold_source']}); {section['rows_drawn_again']:,} draws again, "
        f"{section['rows_dropped']:,} rows dropped; fidelity (overall) "
        f"{section['fidelity_overall_before']:.3f} before, {section['fidelity_overall_after']:.3f} after."
    )


def _rules_line(section: dict[str, Any] | None) -> str:
    if not section:
        return "No value rules were declared."
    rules = section["rules"]
    broken = [r for r in rules if r.get("real_violation_rate")]
    real = (
        "; broken by some real rows: "
        + ", ".join(f"{r['name']} ({100 * r['real_violation_rate']:.3g}%)" for r in broken)
        if broken
        else ""
    )
    return (
        f"Value rules: {len(rules)} rules ({', '.join(r['name'] for r in rules)}), checked on all "
        f"{section['checked_rows']:,} released rows: 0 violations; {section['rows_drawn_again']:,} rows were drawn "
        f"again under rule-satisfying conditions{real}."
    )


def _fairness_line(section: dict[str, Any] | None) -> str:
    if not section:
        return "No bias mitigation was applied."
    strategy, after, before = section["strategy"], section["after"], section["before"]
    parts = []
    for name, figures in after.items():
        gap = figures.get("demographic_parity_difference")
        was = before.get(name, {}).get("demographic_parity_difference") if isinstance(before, dict) else None
        shares = ", ".join(f"{g} {v['share']:.1%}" for g, v in figures["groups"].items())
        text = f"{name}: shares {shares}"
        if gap is not None:
            text += f"; label-rate gap {gap:.3f}" + (f" (training rows {was:.3f})" if was is not None else "")
        parts.append(text)
    pairs = ""
    if strategy == "counterfactual":
        named = ", ".join(section["descendants"]) or "none"
        pairs = f" {section['pairs']:,} counterfactual pairs (descendants: {named})."
    return f"Bias mitigation `{strategy}` (measured on the released rows): {'; '.join(parts)}.{pairs}"


def _source_line(src: dict[str, Any]) -> str:
    name = src.get("name") or "an in-memory table"
    if src.get("keyed_sha256"):
        return (
            f"{name}: {src.get('columns')} columns (row count withheld: a DP release); digest keyed with the "
            f"issuer's secret `{src['keyed_sha256']}`; licence: {src['licence']}."
        )
    return (
        f"{name}: {src.get('rows')} rows x {src.get('columns')} columns, sha256\n`{src['sha256']}`; "
        f"licence: {src['licence']}."
    )


def _privacy_line(privacy: dict[str, Any]) -> str:
    if privacy.get("epsilon") is None:
        return str(privacy.get("mechanism"))
    sources = privacy.get("domains") or {}
    estimated = [name for name, source in sources.items() if str(source).startswith("estimated")]
    domains = (
        f"{', '.join(estimated)} estimated with DP (their own budget line), the others declared public in the schema"
        if estimated
        else "declared public in the schema"
    )
    line = (
        f"({privacy['epsilon']:g}, {privacy['delta']:g})-differential privacy ({privacy['mechanism']}; accountant: "
        f"{privacy['accountant']}; domains: {domains})"
    )
    loss = privacy.get("loss")
    if loss:
        noise = ", ".join(f"{part} {sd:.3g}" for part, sd in loss["noise_sd_rows"].items())
        rounds = [r["noise_sd_rows"] for r in privacy.get("rounds") or []]
        if rounds:
            noise += f"; {len(rounds)} adaptively selected marginals at {max(rounds):.3g} to {min(rounds):.3g}"
        columns = loss["columns"].items()
        merged = [f"{name} {c['cells_merged']} of {c['cells']}" for name, c in columns if c["cells_merged"]]
        line += (
            f". What the noise cost: its sd in rows per count, {noise}; public cells the model merged by their noisy "
            f"counts: {', '.join(merged) or 'none'}"
        )
    return line


def copies_sentence(copies: dict[str, Any] | None) -> str:
    """What the datasheet says about copies: the measured figures, or that nothing was measured."""
    if copies is None:
        return "Copies of source rows: not measured (no source table: a rules release has no real rows)."
    if copies.get("measured") is False:
        return f"Copies of source rows: {copies['note']}."
    fresh = "".join(
        f" Column '{c}': {n:,} released values equal a training value." for c, n in copies["fresh_columns"].items()
    )
    if not copies["compared_columns"]:
        return "Copies of source rows: every column is generated fresh (ids, personal data, text)." + fresh
    share, n = copies["exact_copy_share"], copies["exact_copies"]
    text = (
        f"Measured before signing: {n:,} of {copies['released_rows']:,} rows ({share:.2%}) equal a training row "
        f"in every compared column ({', '.join(copies['compared_columns'])})."
    )
    if copies["small_support"]:
        text += (
            f" The training table has only {copies['training_distinct_rows']:,} distinct rows over these columns: with "
            "a support this small generated rows often coincide with training rows, and an exact-copy count cannot "
            "tell such a value combination from memorisation (a holdout, `--holdout`, gives the comparison)."
        )
    if "dcr_share" in copies:
        text += (
            f" Against the holdout, {copies['dcr_share']:.1%} of rows sit closer to a training row than to a holdout "
            f"row (0.5 is no closer), {copies['closer_than_typical_holdout_share']:.1%} are closer to a training row "
            "than real holdout rows typically are (about 50% is no closer), and "
            f"{copies['holdout_copy_share']:.2%} of real holdout rows also equal a training row."
        )
    return text + fresh


def _quality_lines(evaluation: dict[str, Any] | None) -> str:
    if not evaluation:
        return "Not evaluated in this run (`synthgov generate --evaluate` signs an evaluation with the release)."
    figures = evaluation.get("figures", {})
    lines = [f"- {key}: {v['value']:.4f} ({v['verdict']})" for key, v in figures.items()]
    return f"{evaluation['method']}; full report in `report/`.\n" + "\n".join(lines)


def _compute_line(compute: dict[str, Any]) -> str:
    peak = compute.get("peak_memory_mb")
    memory = f"peak memory {peak:.0f} MB" if peak is not None else "peak memory not measured"
    gpu = compute.get("gpu_seconds") or 0.0
    line = (
        f"{compute['cpu_seconds']:.1f} CPU s, {compute['wall_seconds']:.1f} s wall"
        + (f", {gpu:.1f} GPU s" if gpu else ", no GPU")
        + f", {memory}, about {compute['energy_wh']:.4f} Wh (estimated from CPU time)"
    )
    steps = compute.get("fit_steps")
    if steps:
        line += "; the fit by step: " + ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in steps.items())
    training = compute.get("training")
    if training:
        budget = training.get("time_budget_seconds")
        line += (
            f"; training ran {training['epochs_run']} of {training['epochs_allowed']} epochs (best: epoch "
            f"{training['best_epoch']}), ended by {training['stopped_by']}"
            + (f", time budget {budget:g} s" if budget is not None else ", no time budget")
        )
    return line


def _lineage_line(lineage: dict[str, Any]) -> str:
    if not lineage.get("parents"):
        return "trained on real data"
    names = ", ".join(str(parent.get("release_id")) for parent in lineage["parents"] if isinstance(parent, dict))
    share = lineage.get("synthetic_share_of_training")
    return f"trained on synthetic data of release(s) {names}, {share:.0%} of the training rows, allowed explicitly"
