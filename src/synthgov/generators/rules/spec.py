"""The rules spec: columns with distributions, ``when`` dependencies and row rules, parsed and ordered.

```yaml
columns:
  age:     {type: normal, mean: 41, sd: 12, min: 18, max: 90, round: 0}
  segment: {type: categorical, weights: {retail: 0.7, business: 0.3}}
  income:
    type: lognormal
    mu: 10.4
    sigma: 0.5
    when:                                  # first matching branch wins
      - if: "segment == 'business'"
        then: {type: lognormal, mu: 11.2, sigma: 0.4}
  limit:   {type: normal, mean: "income * 0.3", sd: 500, min: 0}   # depends on income row by row
rules:                                     # every generated row satisfies every rule
  - "limit <= income"
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgov.constraints.expressions import Expression
from synthgov.errors import InputError
from synthgov.generators.rules.distributions import Distribution, make

_COLUMN_KEYS = {"missing", "when"}


@dataclass
class ColumnRule:
    name: str
    base: Distribution
    branches: list[tuple[Expression, Distribution]]
    missing: float

    @property
    def output(self) -> str:
        return self.base.output

    @property
    def depends_on(self) -> set[str]:
        deps = set(self.base.columns)
        for cond, dist in self.branches:
            deps |= set(cond.columns) | set(dist.columns)
        return deps - {self.name}


@dataclass
class Spec:
    columns: dict[str, ColumnRule]
    rules: list[Expression]
    order: list[str]
    rows: int | None = None

    @classmethod
    def parse(cls, raw: Any) -> Spec:
        if isinstance(raw, (str, Path)):
            raw = load_spec_file(raw)
        if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict) or not raw["columns"]:
            raise InputError("rules spec: expected a mapping with a non-empty 'columns' mapping")
        from synthgov.file_models import RulesSpec, check

        check(RulesSpec, raw, "rules spec")
        unknown = sorted(set(raw) - {"columns", "rules", "rows", "name", "description"})
        if unknown:
            raise InputError(f"rules spec: unknown top-level key(s) {', '.join(unknown)}")
        columns = {str(name): _column(str(name), opts) for name, opts in raw["columns"].items()}
        rules_raw = raw.get("rules") or []
        if not isinstance(rules_raw, list):
            raise InputError("rules spec: 'rules' must be a list of expressions")
        rules = [Expression(str(r)) for r in rules_raw]
        for rule in rules:
            unknown_cols = [c for c in rule.columns if c not in columns]
            if unknown_cols:
                raise InputError(f"rules spec: rule {rule.text!r} uses unknown column(s) {', '.join(unknown_cols)}")
        rows = raw.get("rows")
        if rows is not None and (not isinstance(rows, int) or rows < 1):
            raise InputError("rules spec: 'rows' must be a positive integer")
        return cls(columns=columns, rules=rules, order=_topological(columns), rows=rows)


def load_spec_file(path: str | Path) -> Any:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"rules spec not found: {path}")
    try:
        return _json_safe(yaml.safe_load(path.read_text(encoding="utf-8")))
    except UnicodeDecodeError:
        raise InputError(f"rules spec {path} is not UTF-8 text") from None
    except RecursionError:
        raise InputError(f"rules spec {path} is nested too deeply") from None
    except yaml.YAMLError as exc:
        raise InputError(f"rules spec {path} is not valid YAML: {str(exc).splitlines()[0]}") from None


def _json_safe(value: Any, seen: dict[int, Any] | None = None) -> Any:
    """The spec as JSON can hold it (it is saved with the model): YAML's unquoted dates become ISO text. A node
    that YAML aliases many times is converted once and shared (a "billion laughs" file stays small)."""
    import datetime

    seen = {} if seen is None else seen
    if id(value) in seen:
        return seen[id(value)]
    if isinstance(value, dict):
        out: Any = {}
        seen[id(value)] = out
        out.update({k: _json_safe(v, seen) for k, v in value.items()})
        return out
    if isinstance(value, list):
        items: list[Any] = []
        seen[id(value)] = items
        items.extend(_json_safe(v, seen) for v in value)
        return items
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _column(name: str, opts: Any) -> ColumnRule:
    where = f"rules spec: column '{name}'"
    if not isinstance(opts, dict):
        raise InputError(f"{where}: expected a mapping with a 'type'")
    dist_opts = {k: v for k, v in opts.items() if k not in _COLUMN_KEYS}
    base = make(dist_opts, where)
    missing = opts.get("missing", 0.0)
    if isinstance(missing, bool) or not isinstance(missing, (int, float)) or not 0 <= missing < 1:
        raise InputError(f"{where}: 'missing' must be a share in [0, 1)")
    branches = []
    entries = opts.get("when") or []
    if not isinstance(entries, list):
        raise InputError(f"{where}: 'when' must be a list of {{if, then}} entries")
    for i, branch in enumerate(entries):
        if not isinstance(branch, dict) or set(branch) != {"if", "then"}:
            raise InputError(f"{where}: each 'when' entry needs exactly 'if' and 'then'")
        dist = make(branch["then"], f"{where}, when #{i + 1}")
        if dist.output != base.output:
            raise InputError(f"{where}, when #{i + 1}: yields {dist.output} values but the column is {base.output}")
        branches.append((Expression(str(branch["if"])), dist))
    return ColumnRule(name=name, base=base, branches=branches, missing=float(missing))


def _topological(columns: dict[str, ColumnRule]) -> list[str]:
    for col in columns.values():
        unknown = sorted(col.depends_on - set(columns))
        if unknown:
            raise InputError(f"rules spec: column '{col.name}' refers to unknown column(s) {', '.join(unknown)}")
    order: list[str] = []
    pending = list(columns)
    while pending:
        ready = [c for c in pending if columns[c].depends_on <= set(order)]
        if not ready:
            raise InputError(f"rules spec: circular dependency among columns {', '.join(pending)}")
        order.extend(ready)
        pending = [c for c in pending if c not in ready]
    return order
