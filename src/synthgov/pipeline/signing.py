"""The sign stage's work: the predicate of the manifest from what the earlier stages measured, then the signed
manifest, datasheet and exports."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from synthgov.pipeline.run import ReleaseRun


def sign_run(run: ReleaseRun) -> None:
    from synthgov.release.folder import sign_release
    from synthgov.release.keys import Keystore
    from synthgov.release.manifest import base_predicate

    keystore = Keystore.default().ensure()
    options = run.options
    predicate = base_predicate(
        generator=run.generator,
        params=_jsonable(run.model.get_params()),
        seed=int(run.model.seed_),
        keystore=keystore,
        source=_source(run),
        rows=run.rows,
        cost=_with_fit_steps(run.meter.summary(), run.model),
        party=options.party,
        evaluation=run.evaluation,
        release_id=run.release_id,
        watermark=run.marking,
        lineage=run.verdict.lineage(options.allow_synthetic) if run.verdict is not None else None,
        copies=run.copies,
    )
    if run.partial is not None:
        predicate["synthetic_category"] = "partially synthetic"
        predicate["partial"] = run.partial
    if run.hybrid is not None:
        predicate["synthetic_category"] = "hybrid (real and synthetic rows)"
        predicate["hybrid"] = run.hybrid
    if run.filtering is not None:
        predicate["privacy_filter"] = run.filtering
    from synthgov.pipeline.value_rules import section

    value_rules = section(run)
    if value_rules is not None:
        predicate["value_rules"] = value_rules
    from synthgov.pipeline.fairness import section as fairness_section

    fairness = fairness_section(run)
    if fairness is not None:
        predicate["fairness"] = fairness
    if run.budget is not None:
        from synthgov.pipeline.privacy import manifest_privacy, manifest_source

        predicate["source"] = manifest_source(run, predicate["source"])
        predicate["privacy"] = manifest_privacy(run)
    if run.partitions is not None:
        predicate["partitions"] = run.partitions
    run.signed_files = sign_release(
        run.folder, data_files(run), predicate, keystore, reports=run.report_files, entries=run.data_entries
    )
    from synthgov.release.verify import load_manifest

    run.manifest = load_manifest(run.folder)


def data_files(run: ReleaseRun) -> list[Path]:
    """The release's data files: ``synthetic.parquet`` (and ``.csv``), or a partitioned release's partitions."""
    from synthgov.pipeline.streaming import DATA_FOLDER

    return [p for p in run.files if p.name.startswith("synthetic.") or p.parent.name == DATA_FOLDER]


def _source(run: ReleaseRun) -> dict[str, Any]:
    from synthgov.release.manifest import source_fingerprint

    licence = run.options.source_licence
    path = Path(run.source) if isinstance(run.source, (str, Path)) else None
    if run.table is None:
        return {
            "name": path.name if path else None,
            "kind": "rules spec, no real data",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path else None,
            "licence": licence or "unspecified",
        }
    return source_fingerprint(path, run.table, getattr(run.model, "schema_", None), licence)


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    simple = (str, int, float, bool, type(None), list, dict)
    return {key: value if isinstance(value, simple) else str(value) for key, value in params.items()}


STOPPED_BY = {"epochs": "the epoch limit", "early": "early stopping (validation loss)", "time": "the time budget"}


def _with_fit_steps(cost: dict[str, Any], model: Any) -> dict[str, Any]:
    """The fit's own named steps (analyze, encode, train, ...) and, for a neural generator, how its training
    ended, when the model was fitted in this run (a model loaded from a file was fitted elsewhere: left out)."""
    steps = getattr(model, "fit_steps_", None)
    if not steps:
        return cost
    cost["fit_steps"] = dict(steps)
    cost["methods"]["fit_steps"] = "time.perf_counter around each named step of the generator's fit (the steps "
    "its progress bars show), summed by the step's kind"
    report = getattr(model, "training_", None)
    if report is not None and hasattr(report, "stopped"):
        cost["training"] = {
            "epochs_run": int(report.epochs_run),
            "epochs_allowed": int(getattr(model, "epochs", report.epochs_run)),
            "best_epoch": int(report.best_epoch),
            "stopped_by": STOPPED_BY.get(report.stopped, report.stopped),
            "time_budget_seconds": getattr(model, "max_seconds", None),
            "seconds": round(float(report.seconds), 3),
        }
    return cost
