"""``synthgov.evaluate``: one call from (real, synthetic[, holdout]) to a typed result, report.json and
report.html."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.evaluation import attacks, detection, edge_cases, fidelity, privacy, utility
from synthgov.evaluation.bias import bias as bias_metrics
from synthgov.evaluation.catalogue import summarise
from synthgov.evaluation.prepare import Encoding, Tables, load_tables, sample_rows
from synthgov.table.io import TableLike

ATTACK_ROWS = 5_000  # training and control rows per privacy attack (equal sizes)
REPORT_VERSION = 1


@dataclass
class EvaluationResult:
    """The report as a nested dict (``report``, the documented report.json), the headline metrics with
    definitions and verdicts (``metrics``), and what the HTML plots need (``figures_data``)."""

    report: dict[str, Any]
    metrics: list[dict[str, Any]]
    figures_data: dict[str, Any] = field(default_factory=dict, repr=False)
    files: list[Path] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.report[key]

    def get(self, dotted: str) -> Any:
        from synthgov.evaluation.catalogue import lookup

        return lookup(self.report, dotted)

    def headline(self) -> dict[str, Any]:
        """The headline figures with their verdicts, for a signed manifest (the full report sits beside it)."""
        inputs = self.report["inputs"]
        return {
            "method": f"synthgov.evaluate, report_version {self.report['report_version']}, seed {inputs['seed']}",
            "real_rows": inputs["real_rows"],
            "synthetic_rows": inputs["synthetic_rows"],
            "holdout_rows": inputs["holdout_rows"],
            "target": inputs["target"],
            "figures": {m["key"]: {"value": m["value"], "verdict": m["verdict"]} for m in self.metrics},
            "notes": list(self.report.get("notes", [])),
        }

    def to_json(self) -> str:
        return json.dumps(_json_safe(self.report), indent=2, allow_nan=False)

    def write(self, folder: str | Path) -> list[Path]:
        from synthgov.evaluation.report_html import render_html

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(self.to_json() + "\n", encoding="utf-8")
        (folder / "report.html").write_text(render_html(self), encoding="utf-8")
        self.files = [folder / "report.json", folder / "report.html"]
        return self.files


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    return value


def evaluate(
    real: TableLike,
    synthetic: TableLike,
    holdout: TableLike | None = None,
    *,
    target: str | None = None,
    sensitive: list[str] | tuple[str, ...] = (),
    quick: bool = False,
    schema: Any = None,
    seed: int = 0,
    out: str | Path | None = None,
    declared: dict[str, Any] | None = None,
    hybrid: dict[str, Any] | None = None,
    mitigation: dict[str, Any] | None = None,
) -> EvaluationResult:
    """Assess ``synthetic`` against ``real`` (the training table) and an optional ``holdout`` of real rows never
    used for training. ``target`` enables utility and label-based bias metrics; ``sensitive`` names the columns
    whose groups the bias metrics compare. ``quick`` computes fidelity and utility only. With ``out``, writes
    ``report.json`` and ``report.html`` there. ``declared``: the privacy statement of the release the synthetic
    table comes from (its signed manifest's ``privacy`` section), reported beside the measured risks. ``hybrid``:
    a hybrid release's declaration, ``{"real_rows": k, "synthetic_rows": m, "origin": mask or None}``; with the
    key holder's ``origin`` (True for a declared real row), the privacy risks are measured on the generated rows
    only and the declared real rows are reported apart; without it, the report says the risks count them.
    ``mitigation``: a fair release's ``fairness`` section (its manifest's), shown with its before/after figures."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    with progress.step("evaluate: read tables"):
        tables = load_tables(real, synthetic, holdout, schema)
    for name in [*(sensitive or []), *([target] if target else [])]:
        if name not in tables.real.columns:
            raise InputError(f"unknown column '{name}' (columns: {', '.join(tables.real.columns)})")
        if name not in tables.columns:
            raise InputError(
                f"column '{name}' is a {tables.kind(name)} column; it cannot be a target or sensitive column"
            )
    encoding = Encoding.fit(tables)
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "inputs": {
            "real_rows": len(tables.real),
            "synthetic_rows": len(tables.synthetic),
            "holdout_rows": None if tables.holdout is None else len(tables.holdout),
            "columns": tables.columns,
            "target": target,
            "sensitive": list(sensitive or []),
            "quick": quick,
            "seed": seed,
        },
        "notes": [],
    }
    figures: dict[str, Any] = {"tables": tables}
    steps = 3 if quick else 7
    with progress.step("evaluate: metrics", total=steps) as advance:
        quality = fidelity.quality_scores(tables)
        report["fidelity"] = {**quality, **fidelity.missing_and_coverage(tables)}
        advance(info="fidelity")
        report["edge_cases"] = edge_cases.edge_cases(tables)
        advance(info="edge cases")
        models = None
        if target is not None:
            test, train = tables.holdout, None
            if test is None:
                rows = rng.permutation(len(tables.real))
                test, train = tables.real.iloc[rows[: len(rows) // 5]], tables.real.iloc[rows[len(rows) // 5 :]]
                report["notes"].append(
                    "no holdout: utility is tested on a random 20% of the real rows, which the train-on-real "
                    "baseline does not train on (the generator saw them, so train-on-synthetic may be favoured; "
                    "--holdout gives an unbiased comparison)"
                )
            report["utility"], models = utility.utility(tables, target, test, rng, real_train=train)
            if report["utility"].get("task_basis"):
                report["notes"].append(report["utility"]["task_basis"])
        else:
            report["utility"] = None
            report["notes"].append("no target: utility and label-based bias metrics were skipped")
        advance(info="utility")
        if quick:
            report["notes"].append("quick mode: detection, alpha/beta, privacy and bias metrics were skipped")
            report["privacy"] = None
            report["bias"] = None
        else:
            report["fidelity"].update(detection.detection_auc(tables, encoding, rng))
            report["fidelity"].update(detection.alpha_precision_beta_recall(tables, encoding, rng))
            advance(info="detection")
            measured = _generated_rows(tables, hybrid, report["notes"])
            notes = report["notes"]
            report["privacy"] = _privacy(measured, encoding, target, list(sensitive or []), rng, figures, notes)
            if hybrid is not None:
                report["privacy"]["hybrid"] = _hybrid_section(tables, hybrid)
            if declared:
                report["privacy"]["declared"] = _declared(declared)
                report["notes"].append(_declared_note(report["privacy"]))
            advance(info="privacy")
            report["bias"] = bias_metrics(tables, list(sensitive or []), target, models)
            advance(info="bias")
    figures["models"] = models
    if mitigation is not None:
        report["mitigation"] = mitigation
    report["seconds"] = round(time.perf_counter() - started, 3)
    result = EvaluationResult(report=_json_safe(report), metrics=[], figures_data=figures)
    result.metrics = summarise(result.report)
    result.report["summary"] = result.metrics
    if out is not None:
        with progress.step("evaluate: write report"):
            result.write(out)
    return result


def _privacy(
    tables: Tables,
    encoding: Encoding,
    target: str | None,
    sensitive: list[str],
    rng: np.random.Generator,
    figures: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = dict(privacy.exact_copies(tables))
    distances = privacy.distance_metrics(tables, encoding, rng)
    figures["dcr"] = {k: distances.pop(k) for k in ("dcr_train", "dcr_holdout") if k in distances}
    out.update(distances)
    out.update(privacy.distances_to_training(tables, encoding, rng))
    out.update(privacy.membership_inference(tables, encoding, rng))
    if tables.holdout is None:
        notes.append(
            "no holdout: DCR share, membership inference and the attack risks need real rows not used for training"
        )
        return out
    size = min(len(tables.real), len(tables.holdout), ATTACK_ROWS)
    ori = sample_rows(tables.real, size, rng)
    control = sample_rows(tables.holdout, size, rng)
    syn = tables.synthetic
    close = out.get("close_rows") or {"synthetic": 0, "holdout": 0, "training": 0}
    notes.append(
        f"privacy attacks ran on samples: {size:,} training and {size:,} control rows, "
        f"{attacks.N_ATTACKS} attacks each; DCR share on {out['dcr_rows']['synthetic']:,} synthetic rows against "
        f"equal samples of {out['dcr_rows']['reference']:,} training and holdout rows; distances of "
        f"{close['synthetic']:,} synthetic and {close['holdout']:,} holdout rows to all {close['training']:,} "
        f"training rows; membership inference on {out.get('mia_rows', {}).get('members', 0):,} members and "
        f"non-members against all {len(syn):,} synthetic rows"
    )
    out["singling_out"] = attacks.singling_out(ori, syn, control, tables, rng)
    out["linkability"] = attacks.linkability(ori, syn, control, tables, encoding, rng)
    secret = target or (sensitive[0] if sensitive else tables.columns[-1])
    out["inference"] = attacks.inference(ori, syn, control, tables, encoding, secret, rng)
    out["attack_rows"] = size
    return out


def _generated_rows(tables: Tables, hybrid: dict[str, Any] | None, notes: list[str]) -> Tables:
    """The tables the privacy risks are measured on: a hybrid release's generated rows when its origin is known."""
    if hybrid is None:
        return tables
    real, generated = int(hybrid["real_rows"]), int(hybrid["synthetic_rows"])
    origin = hybrid.get("origin")
    if origin is None:
        notes.append(
            f"hybrid release: {real:,} of its {real + generated:,} rows are real rows declared by its manifest; only "
            "its issuer's key tells which, so the privacy risks here count them as leaks (run the evaluation where "
            "the issuer's keystore is to measure the generated rows apart)"
        )
        return tables
    mask = np.asarray(origin, dtype=bool)
    if mask.size != len(tables.synthetic):
        raise InputError(f"the hybrid origin has {mask.size:,} rows, the synthetic table {len(tables.synthetic):,}")
    notes.append(
        f"hybrid release: the privacy risks are measured on its {int((~mask).sum()):,} generated rows; its "
        f"{int(mask.sum()):,} declared real rows (origin recovered with the issuer's key) are reported apart"
    )
    return Tables(
        real=tables.real,
        synthetic=tables.synthetic.loc[~mask].reset_index(drop=True),
        holdout=tables.holdout,
        schema=tables.schema,
        notes=tables.notes,
    )


def _hybrid_section(tables: Tables, hybrid: dict[str, Any]) -> dict[str, Any]:
    real, generated = int(hybrid["real_rows"]), int(hybrid["synthetic_rows"])
    section: dict[str, Any] = {
        "declared_real_rows": real,
        "generated_rows": generated,
        "declared_real_share": real / max(real + generated, 1),
        "origin_known": hybrid.get("origin") is not None,
    }
    if hybrid.get("origin") is not None:
        mask = np.asarray(hybrid["origin"], dtype=bool)
        declared_real = Tables(
            real=tables.real,
            synthetic=tables.synthetic.loc[mask].reset_index(drop=True),
            holdout=None,
            schema=tables.schema,
        )
        section["declared_real_rows_found_in_training"] = privacy.exact_copies(declared_real)["exact_copy_rate"]
    return section


def _declared(privacy: dict[str, Any]) -> dict[str, Any]:
    keys = ("epsilon", "delta", "rho", "mechanism", "accountant")
    return {key: privacy.get(key) for key in keys}


def _declared_note(section: dict[str, Any]) -> str:
    declared = section["declared"]
    measured = [f"membership inference AUC {section['mia_auc']:.3f}" if section.get("mia_auc") is not None else ""]
    if section.get("close_to_training_share") is not None:
        measured.append(f"rows unusually close to training rows {section['close_to_training_share']:.3f}")
    shown = "; ".join(m for m in measured if m) or "no attack ran (no holdout)"
    return (
        f"declared by the release's signed manifest: ({declared['epsilon']:g}, {declared['delta']:g})-differential "
        f"privacy ({declared['mechanism']}); measured here: {shown}"
    )


def as_frame(result: EvaluationResult) -> pd.DataFrame:
    return pd.DataFrame(result.metrics)
