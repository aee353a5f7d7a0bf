"""The value rules of a release (``--rules``): checked against the real table before fitting, enforced when rows
are drawn, checked again on the rows as released, and stated in the manifest (issue 21)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from synthgov.errors import InputError
from synthgov.pipeline.run import ReleaseRun

logger = logging.getLogger(__name__)

NOT_MEASURED_DP = (
    "not measured: a differentially private release reads the real rows only through its mechanisms; the rules "
    "were checked against the declared (public) categories instead"
)


def prepare(run: ReleaseRun) -> None:
    """Load the rules (``--rules``, or ``rules:`` in the schema file) and measure them on the real table: unknown
    columns, rules nothing satisfies and contradictions stop the run here, before any fitting."""
    from synthgov.constraints.preflight import check_declared, check_rules
    from synthgov.constraints.value_rules import load_rules, rules_of_schema

    options = run.options
    rules = load_rules(options.rules) if options.rules is not None else rules_of_schema(options.schema)
    if rules is None:
        return
    if run.table is None:
        raise InputError("--rules applies to generators that learn from a table; a rules spec has its own rules:")
    if options.mode != "full":
        raise InputError(f"--rules applies to fully synthetic releases; a {options.mode} release keeps real values")
    from synthgov.pipeline.privacy import is_private

    if is_private(run.generator, options.params):
        from synthgov.privacy.cells import dp_schema

        check_declared(rules, dp_schema(run.table, options.schema))
        run.rule_check = None
    else:
        run.rule_check = check_rules(rules, run.table)
    run.rules = rules


def draw(run: ReleaseRun, n: int, seed: int | None, conditions: Any) -> pd.DataFrame:
    """``n`` rows of the run's model: satisfying every rule when the run has rules (recording what it took)."""
    if run.rules is None:
        return run.model.sample(n, seed=seed, conditions=conditions)
    from synthgov.constraints.enforcement import sample_satisfying

    data, report = sample_satisfying(run.model, n, run.rules, seed=seed, conditions=conditions)
    run.rules_drawn = report if run.rules_drawn is None else merged(run.rules_drawn, report)
    return data


def merged(first: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    merged = dict(first)
    for key in ("rows_drawn_again", "rows_replaced_whole", "rows_resampled_conditionally"):
        merged[key] = first[key] + more[key]
    return merged


def carriers(run: ReleaseRun, columns: list[str]) -> list[str]:
    """The columns the watermark may change: none that a rule reads (a mark must not break a rule)."""
    if run.rules is None:
        return columns
    ruled = set(run.rules.columns)
    return [c for c in columns if c not in ruled]


def section(run: ReleaseRun) -> dict[str, Any] | None:
    """The manifest's ``value_rules`` section: each rule, its real violation rate (when measured) and its
    violations in the released rows, counted here on the rows as written (after the watermark and any filter)."""
    if run.rules is None:
        return None
    from synthgov.constraints.enforcement import METHOD

    if run.rule_violations is not None:  # a partitioned release: counted partition by partition as written
        released = run.rule_violations
    else:
        assert run.data is not None
        released = run.rules.violations(run.data)
    broken = {name: count for name, count in released.items() if count}
    if broken:
        raise RuntimeError(f"released rows break rules: {broken}")
    check = run.rule_check
    rules = []
    for rule in run.rules:
        entry = rule.to_dict()
        if check is not None:
            entry["real_violation_rate"] = round(check.real_violation_rate.get(rule.name, 0.0), 6)
        entry["violations_in_first_draw"] = (run.rules_drawn or {}).get("violations_in_first_draw", {}).get(rule.name)
        entry["violations_released"] = released[rule.name]
        rules.append(entry)
    return {
        "method": (run.rules_drawn or {}).get("method", METHOD),
        "checked_rows": run.rows,
        "rows_drawn_again": (run.rules_drawn or {}).get("rows_drawn_again", 0),
        "rows_replaced_whole": (run.rules_drawn or {}).get("rows_replaced_whole", 0),
        "rows_resampled_conditionally": (run.rules_drawn or {}).get("rows_resampled_conditionally", 0),
        "real_violations": "measured on the training rows before fitting" if check is not None else NOT_MEASURED_DP,
        "rules": rules,
    }
