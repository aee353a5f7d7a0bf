"""Value rules: what must hold in every released row, whatever the generator (issue 21).

A rule file (``--rules rules.yaml``, or ``rules:`` in the schema file; model: :class:`synthgov.file_models.ValueRule`)
lists rules of six kinds, each compiled into a :class:`Rule` that says, for a table, which rows satisfy it:

* ``check``: any expression of the safe language (``end >= start + days(1)``);
* ``if`` / ``then``: a conditional rule (``if: relationship == 'Husband'``, ``then: sex == 'Male'``);
* ``range``: ``{column, min, max}`` (missing values are not a breach: missingness is the schema's business);
* ``allowed``: the only combinations of some columns that may occur (``education`` with ``education-num``);
* ``forbidden``: one combination ``{column: value}`` that must never occur;
* ``unique``: a column without repeated values.

:mod:`synthgov.constraints.enforcement` makes every generated row satisfy them; :mod:`synthgov.constraints.preflight`
measures them on the real table before fitting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgov.constraints.expressions import Expression
from synthgov.errors import InputError

logger = logging.getLogger(__name__)


@dataclass
class Rule:
    """One compiled rule. ``holds(frame)`` is a boolean per row; ``text`` is how it reads in reports."""

    name: str
    kind: str  # check, conditional, range, allowed, forbidden, unique
    text: str
    columns: list[str]
    expression: Expression | None = None
    combinations: set[tuple[Any, ...]] = field(default_factory=set)

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        n = len(frame)
        if self.kind == "unique":
            column = frame[self.columns[0]]
            return ~column.duplicated(keep="first").to_numpy() | column.isna().to_numpy()
        if self.kind in ("allowed", "forbidden"):
            inside = self._listed(frame)
            return inside if self.kind == "allowed" else ~inside
        assert self.expression is not None
        env = {c: _values(frame[c]) for c in self.expression.columns}
        value = np.asarray(self.expression.evaluate(env, n))
        if value.dtype != bool:
            raise InputError(f"rule {self.name!r} ({self.text}) is not a true/false condition")
        return np.broadcast_to(value, (n,)).copy()

    def _listed(self, frame: pd.DataFrame) -> np.ndarray:
        """Whether each row's values of ``columns`` are one of ``combinations`` (vectorised: each column's values
        are coded by the values the combinations use, then the codes are compared as one integer per row)."""
        levels = [sorted({combo[j] for combo in self.combinations}, key=repr) for j in range(len(self.columns))]
        lookups = [{value: i for i, value in enumerate(values)} for values in levels]
        sizes = np.array([len(values) for values in levels], dtype=np.int64)
        radix = np.concatenate([[1], np.cumprod(sizes[:-1])]).astype(np.int64)
        wanted = np.array([sum(lookups[j][v] * radix[j] for j, v in enumerate(combo)) for combo in self.combinations])
        key = np.zeros(len(frame), dtype=np.int64)
        known = np.ones(len(frame), dtype=bool)
        for j, column in enumerate(self.columns):
            series = frame[column]
            lookup = {k: v for k, v in lookups[j].items() if k is not None}
            codes = series.map(lookup).to_numpy(dtype=np.float64, na_value=np.nan)
            if None in lookups[j]:
                codes[series.isna().to_numpy()] = lookups[j][None]
            known &= ~np.isnan(codes)
            key += np.where(np.isnan(codes), 0, codes).astype(np.int64) * radix[j]
        return known & np.isin(key, wanted)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "rule": self.text, "columns": list(self.columns)}


class RuleSet:
    """The rules of one release, checked against the table's columns when bound to it."""

    def __init__(self, rules: list[Rule], source: str = "rules", entries: list[dict[str, Any]] | None = None) -> None:
        self.rules = rules
        self.source = source
        self.entries = entries or []  # the checked entries as a rules file writes them (JSON-able)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rules)

    @property
    def columns(self) -> list[str]:
        """Every column some rule reads, in first-use order."""
        seen: dict[str, None] = {}
        for rule in self.rules:
            seen.update(dict.fromkeys(rule.columns))
        return list(seen)

    @property
    def row_rules(self) -> list[Rule]:
        """The rules that a row satisfies on its own (all but ``unique``)."""
        return [r for r in self.rules if r.kind != "unique"]

    @property
    def unique_columns(self) -> list[str]:
        return [r.columns[0] for r in self.rules if r.kind == "unique"]

    def check_columns(self, columns: list[str]) -> None:
        """A rule over a column that the table lacks is one error naming the rule and the column."""
        known = set(columns)
        for rule in self.rules:
            missing = [c for c in rule.columns if c not in known]
            if missing:
                raise InputError(
                    f"{self.source}: rule {rule.name!r} uses unknown column(s) {', '.join(map(repr, missing))} "
                    f"(columns: {', '.join(columns[:20])}{', ...' if len(columns) > 20 else ''})"
                )

    def holds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per rule name, whether each row satisfies it (a ``unique`` rule: whether the value is a first use)."""
        return {rule.name: rule.holds(frame) for rule in self.rules}

    def satisfied(self, frame: pd.DataFrame, held: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """True for the rows that satisfy every row rule (``unique`` is a property of the table: see
        :meth:`violations`)."""
        ok = np.ones(len(frame), dtype=bool)
        for rule in self.row_rules:
            ok &= held[rule.name] if held is not None else rule.holds(frame)
        return ok

    def violations(self, frame: pd.DataFrame, held: dict[str, np.ndarray] | None = None) -> dict[str, int]:
        """Rows breaking each rule, by name (a ``unique`` rule counts the repeated values)."""
        held = held if held is not None else self.holds(frame)
        return {rule.name: int((~held[rule.name]).sum()) for rule in self.rules}


def _values(series: pd.Series) -> np.ndarray:
    """A column as the expression language reads it: numbers as float, datetimes as datetime64, the rest objects
    (missing values as None so that comparisons with strings are false, not errors)."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        return values.to_numpy(dtype="datetime64[us]")
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


def _comparable(series: pd.Series) -> list[Any]:
    """Values as hashable keys that equal what a rule file writes (1 and 1.0 alike, missing as None)."""
    out: list[Any] = []
    for value in series.astype(object).tolist():
        if value is None or (isinstance(value, float) and value != value) or value is pd.NaT or value is pd.NA:
            out.append(None)
        elif isinstance(value, (bool, np.bool_)):
            out.append(bool(value))
        elif isinstance(value, (int, float, np.integer, np.floating)):
            out.append(float(value))
        else:
            out.append(str(value))
    return out


def _key(values: list[Any]) -> tuple[Any, ...]:
    return tuple(_comparable(pd.Series(values, dtype=object)))


def _literal(value: Any) -> str:
    """A bound as the expression language reads it (13 rather than 13.0; strings, e.g. dates, quoted)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _quote(column: str) -> str:
    return column if column.isidentifier() else f"`{column}`"


def compile_rule(entry: Any, index: int) -> Rule:
    """One checked entry of a rules file (a string or a :class:`~synthgov.file_models.ValueRule`) as a Rule."""
    from synthgov.file_models import ValueRule

    if isinstance(entry, str):
        entry = ValueRule(check=entry)
    assert isinstance(entry, ValueRule)
    if entry.check is not None:
        expression = Expression(entry.check)
        return Rule(entry.name or entry.check, "check", entry.check, expression.columns, expression)
    if entry.condition is not None:
        text = f"if {entry.condition} then {entry.then}"
        condition, then = Expression(entry.condition), Expression(str(entry.then))
        expression = Expression(f"not ({entry.condition}) or ({entry.then})")
        columns = sorted(set(condition.columns) | set(then.columns))
        return Rule(entry.name or text, "conditional", text, columns, expression)
    if entry.range is not None:
        r = entry.range
        if r.min is None and r.max is None:
            raise InputError(f"rule {index + 1} (range of {r.column!r}) needs min, max or both")
        parts = [f"{_quote(r.column)} >= {_literal(r.min)}"] if r.min is not None else []
        parts += [f"{_quote(r.column)} <= {_literal(r.max)}"] if r.max is not None else []
        text = " and ".join(parts)
        expression = Expression(f"isnull({_quote(r.column)}) or ({text})")
        return Rule(entry.name or text, "range", text, [r.column], expression)
    if entry.allowed is not None:
        a = entry.allowed
        wrong = [v for v in a.values if len(v) != len(a.columns)]
        if wrong:
            raise InputError(
                f"rule {index + 1} (allowed {a.columns}): each combination needs {len(a.columns)} values, "
                f"got {wrong[0]}"
            )
        text = f"({', '.join(a.columns)}) in {len(a.values)} allowed combinations"
        return Rule(entry.name or text, "allowed", text, list(a.columns), combinations={_key(v) for v in a.values})
    if entry.forbidden is not None:
        columns = list(entry.forbidden)
        text = "not (" + " and ".join(f"{_quote(c)} == {v!r}" for c, v in entry.forbidden.items()) + ")"
        return Rule(entry.name or text, "forbidden", text, columns, combinations={_key(list(entry.forbidden.values()))})
    assert entry.unique is not None
    text = f"{entry.unique} is unique"
    return Rule(entry.name or text, "unique", text, [entry.unique])


def rule_set(entries: list[Any], source: str = "rules") -> RuleSet:
    """Compile checked entries; two rules with one name are refused (reports name rules by it)."""
    from synthgov.file_models import ValueRule

    rules = [compile_rule(entry, i) for i, entry in enumerate(entries)]
    written = [
        e.model_dump(by_alias=True, exclude_none=True) if isinstance(e, ValueRule) else {"check": e} for e in entries
    ]
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise InputError(f"{source}: two rules are named {rule.name!r}; give each rule its own name")
        seen.add(rule.name)
    return RuleSet(rules, source, written)


def load_rules(rules: Any) -> RuleSet | None:
    """Rules from a file path (a value rules file, or a schema file with ``rules:``), a list of entries (strings
    or mappings, as in the file), a mapping with ``rules``, or a RuleSet; None stays None."""
    from synthgov.file_models import ValueRulesFile, check

    if rules is None or isinstance(rules, RuleSet):
        return rules
    source = "rules"
    if isinstance(rules, (str, Path)):
        source = f"rules file {rules}"
        rules = read_rules_document(Path(rules))
    if isinstance(rules, list):
        rules = {"rules": rules}
    if isinstance(rules, dict) and "columns" in rules and "rules" in rules:  # a schema file that carries rules
        rules = {"rules": rules["rules"]}
    checked = check(ValueRulesFile, rules, source)
    return rule_set(list(checked.rules), source)  # type: ignore[attr-defined]


def rules_of_schema(schema: Any) -> RuleSet | None:
    """The ``rules:`` a schema file carries (None when it is not a file or carries none)."""
    if not isinstance(schema, (str, Path)) or not Path(schema).is_file():
        return None
    document = read_rules_document(Path(schema))
    if isinstance(document, dict) and document.get("rules"):
        return load_rules({"rules": document["rules"]})
    return None


def read_rules_document(path: Path) -> Any:
    if not path.is_file():
        raise InputError(f"rules file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"rules file {path} is not UTF-8 text") from None
    try:
        if path.suffix.lower() == ".json":
            import json

            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except RecursionError:
        raise InputError(f"rules file {path} is nested too deeply") from None
    except Exception as exc:  # yaml.YAMLError and json.JSONDecodeError have no common base
        raise InputError(f"rules file {path} is not valid {path.suffix[1:].upper() or 'YAML'}: {exc}") from None
