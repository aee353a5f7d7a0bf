"""Rule discovery (``synthgov rules suggest TABLE``): rules that hold in the real rows, with their support, as an
editable value rules file (issue 21).

Four kinds are looked for, each over the columns where it makes sense:

* **fixed combinations** (functional dependencies): a column with few values that determines another (``education``
  determines ``education-num``), written as an ``allowed`` rule listing the combinations seen;
* **implications between categories**: ``if relationship == 'Husband' then sex == 'Male'`` (or ``in [..]`` with up to
  :data:`MAX_THEN_VALUES` values), where the condition covers at least :data:`MIN_SUPPORT` rows, the consequence
  is informative (it excludes at least :data:`MIN_EXCLUDED` of the rows overall) and would be very unlikely by
  chance (if the columns were independent, all the rows covered would fall in the consequence with probability
  below 10^:data:`MAX_LOG10_CHANCE`);
* **order relations** between numeric (or datetime) columns whose central 80% overlap (``end >= start``);
  **exclusive positives**: ``if capital-gain > 0 then capital-loss == 0``; and **signs** (``hours >= 0``) for
  columns whose values come within :data:`SIGN_REACH` of their range from zero;
* nothing from a single column's observed minimum or maximum: those are facts of this sample, not rules, and they
  would break on the next rows.

A rule that holds in every row is proposed as is; one that holds in at least ``min_rate`` (default 99.9%) of the rows
where it applies is proposed and flagged with its exceptions, for a person to keep (a value to reinforce) or drop.
The file names what each rule rests on in a comment above it. It discloses facts of the table: it is for the data
owner, not for release.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError

logger = logging.getLogger(__name__)

MAX_LEVELS = 50  # a column with more distinct values is not a determinant or a category of an implication
MIN_SUPPORT = 30  # rows the condition of an implication must cover
MIN_EXCLUDED = 0.05  # an implication's consequence must rule out at least this share of all rows
MAX_THEN_VALUES = 3
MIN_POSITIVE = 0.01  # exclusive positives: each column positive in at least this share of rows
SIGN_REACH = 0.05  # "never negative" only for a column whose minimum is within 5% of its range from zero
MAX_LOG10_CHANCE = -10.0  # an implication is proposed only if independence would make it this unlikely (log10)


@dataclass
class Suggestion:
    """One proposed rule: the rules-file entry, the rows it applies to and its exceptions there."""

    entry: dict[str, Any]
    applies: int
    exceptions: int
    note: str

    @property
    def rate(self) -> float:
        return 1.0 - self.exceptions / self.applies if self.applies else 1.0


def suggest(table: pd.DataFrame, min_rate: float = 0.999) -> list[Suggestion]:
    """Rules that hold in at least ``min_rate`` of the rows they apply to, strongest kinds first."""
    if not 0.5 <= min_rate <= 1.0:
        raise InputError(f"--min-rate must be between 0.5 and 1, got {min_rate}")
    if len(table) < MIN_SUPPORT:
        raise InputError(f"rule discovery needs at least {MIN_SUPPORT} rows, the table has {len(table)}")
    levels = {c: table[c].nunique(dropna=True) for c in table.columns}
    categorical = [c for c in table.columns if 2 <= levels[c] <= MAX_LEVELS]
    numeric = [
        c
        for c in table.columns
        if (pd.api.types.is_numeric_dtype(table[c].dtype) and not pd.api.types.is_bool_dtype(table[c].dtype))
        or pd.api.types.is_datetime64_any_dtype(table[c].dtype)
    ]
    with progress.step(f"rules: looking for rules in {len(table):,} rows x {table.shape[1]} columns"):
        found = _combinations(table, categorical, min_rate)
        determined = {tuple(s.entry["allowed"]["columns"]) for s in found}
        found += _implications(table, categorical, determined, min_rate)
        found += _orders(table, [c for c in numeric if levels[c] > 2], min_rate)
        found += _exclusive_positives(table, [c for c in numeric if not _is_datetime(table[c])], min_rate)
        found += _signs(table, [c for c in numeric if not _is_datetime(table[c])])
    logger.info("rules suggest: %d rules", len(found))
    return found


def _is_datetime(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series.dtype)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value if isinstance(value, (str, int, bool)) else str(value)


def _name(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _quote(column: str) -> str:
    return column if column.isidentifier() else f"`{column}`"


def _combinations(table: pd.DataFrame, categorical: list[str], min_rate: float) -> list[Suggestion]:
    """A determines B in at least min_rate of rows (both present): one ``allowed`` rule per such pair, one rule for
    a pair that determines each other."""
    found, taken = [], set()
    for a, b in itertools.permutations(categorical, 2):
        if (b, a) in taken:
            continue
        pairs = table[[a, b]].dropna()
        counts = pairs.groupby([a, b], sort=False).size()
        if counts.empty:
            continue
        top = counts.groupby(level=0).max()
        kept = int(top.sum())
        if kept < min_rate * len(pairs) or table[b].nunique() < 2:
            continue
        both = pairs.groupby(b)[a].nunique().max() == 1
        dominant = counts[counts == counts.groupby(level=0).transform("max")].reset_index()
        dominant = dominant.drop_duplicates(subset=[a])
        values = [[_plain(x), _plain(y)] for x, y in zip(dominant[a], dominant[b], strict=True)]
        values.sort(key=lambda v: (str(type(v[1])), v[1], str(v[0])))
        taken.add((a, b))
        note = f"{a} determines {b}" + (" and the other way round" if both else "")
        found.append(
            Suggestion(
                {"name": _name(f"{a}-determines-{b}"), "allowed": {"columns": [a, b], "values": values}},
                applies=len(pairs),
                exceptions=len(pairs) - kept,
                note=note,
            )
        )
    return found


def _implications(
    table: pd.DataFrame, categorical: list[str], determined: set[tuple[str, ...]], min_rate: float
) -> list[Suggestion]:
    found = []
    for a, b in itertools.permutations(categorical, 2):
        if (a, b) in determined or (b, a) in determined:
            continue
        share_b = table[b].value_counts(normalize=True, dropna=False)
        crossed = table.groupby(a, sort=False)[b].value_counts(dropna=False)
        for value, group in crossed.groupby(level=0, sort=False):
            support = int(group.sum())
            if support < MIN_SUPPORT:
                continue
            ordered = group.droplevel(0).sort_values(ascending=False)
            ordered = ordered[ordered > 0]
            cumulative = ordered.cumsum()
            smallest = int(np.searchsorted(cumulative.to_numpy(), min_rate * support - 1e-9) + 1)
            # every value seen, when that says something (a rule without exceptions); else the fewest that hold
            # in min_rate of the rows (flagged with its exceptions)
            sizes = [len(ordered), smallest] if len(ordered) > smallest else [smallest]
            size = next((k for k in sizes if k <= MAX_THEN_VALUES and _telling(ordered, k, share_b, support)), 0)
            if not size:
                continue
            chosen = list(ordered.index[:size])
            exceptions = support - int(ordered.iloc[:size].sum())
            then = (
                f"{_quote(b)} == {_plain(chosen[0])!r}"
                if size == 1
                else f"{_quote(b)} in {[_plain(v) for v in sorted(chosen, key=str)]!r}"
            )
            condition = f"{_quote(a)} == {_plain(value)!r}"
            found.append(
                Suggestion(
                    {"name": _name(f"{a}-{value}-implies-{b}"), "if": condition, "then": then},
                    applies=support,
                    exceptions=exceptions,
                    note=f"if {a} is {value!r}, {b} is {' or '.join(map(repr, chosen))}",
                )
            )
    return found


def _telling(ordered: pd.Series, size: int, share_b: pd.Series, support: int) -> bool:
    """The consequence ``B in (the first size values)`` rules out enough rows and is unlikely by chance."""
    chosen = list(ordered.index[:size])
    if any(pd.isna(v) for v in chosen):
        return False
    share = float(share_b.reindex(chosen).sum())
    return share <= 1 - MIN_EXCLUDED and support * np.log10(share) <= MAX_LOG10_CHANCE


def _orders(table: pd.DataFrame, numeric: list[str], min_rate: float) -> list[Suggestion]:
    """``a >= b`` for pairs whose ranges overlap (otherwise the relation says nothing), in min_rate of rows."""
    found = []
    for a, b in itertools.combinations(numeric, 2):
        if _is_datetime(table[a]) != _is_datetime(table[b]):
            continue
        both = table[[a, b]].dropna()
        if len(both) < MIN_SUPPORT:
            continue
        x, y = both[a], both[b]
        if _is_datetime(x):
            x, y = x.astype("int64"), y.astype("int64")
        # the central 80% of each must overlap: otherwise the relation holds by the columns' scales alone
        if x.quantile(0.9) <= y.quantile(0.1) or y.quantile(0.9) <= x.quantile(0.1):
            continue
        for big, small, ge in ((a, b, (x >= y)), (b, a, (y >= x))):
            held = int(ge.sum())
            if held >= min_rate * len(both):
                found.append(
                    Suggestion(
                        {"name": _name(f"{big}-at-least-{small}"), "check": f"{_quote(big)} >= {_quote(small)}"},
                        applies=len(both),
                        exceptions=len(both) - held,
                        note=f"{big} is never below {small}",
                    )
                )
                break
    return found


def _exclusive_positives(table: pd.DataFrame, numeric: list[str], min_rate: float) -> list[Suggestion]:
    found = []
    for a, b in itertools.combinations(numeric, 2):
        x, y = table[a], table[b]
        if (x < 0).any() or (y < 0).any():
            continue
        pa, pb = x > 0, y > 0
        if pa.mean() < MIN_POSITIVE or pb.mean() < MIN_POSITIVE or pa.mean() > 0.5 or pb.mean() > 0.5:
            continue
        applies = int(pa.sum())
        exceptions = int((pa & pb).sum())
        if applies - exceptions >= min_rate * applies:
            found.append(
                Suggestion(
                    {"name": _name(f"{a}-or-{b}"), "if": f"{_quote(a)} > 0", "then": f"{_quote(b)} == 0"},
                    applies=applies,
                    exceptions=exceptions,
                    note=f"{a} and {b} are never both positive",
                )
            )
    return found


def _signs(table: pd.DataFrame, numeric: list[str]) -> list[Suggestion]:
    found = []
    for column in numeric:
        values = table[column].dropna()
        low, high = (values.min(), values.max()) if len(values) else (0, 0)
        # a sign, not an extreme: only where the values reach (close to) zero
        if len(values) and 0 <= low <= SIGN_REACH * (high - low) and high > 0:
            found.append(
                Suggestion(
                    {"name": _name(f"{column}-not-negative"), "range": {"column": column, "min": 0}},
                    applies=len(values),
                    exceptions=0,
                    note=f"{column} is never negative",
                )
            )
    return found


def to_yaml(suggestions: list[Suggestion], source: str, rows: int) -> str:
    """The suggestions as a value rules file, each rule under a comment with what it rests on."""
    import yaml

    lines = [
        f"# Value rules suggested by `synthgov rules suggest` from {source} ({rows:,} rows).",
        "# Each rule held in the rows it applies to (the comment says how often); a rule marked FLAGGED has",
        "# exceptions in the data: keep it to reinforce it in every release, or delete it. Edit freely, then:",
        f"#   synthgov generate {source} --rules <this file>",
        "# It states facts of the table: keep it with the data, not with the release.",
        "version: 1",
        "rules:",
    ]
    seen: set[str] = set()
    for s in suggestions:
        name = s.entry["name"]
        if name in seen:
            name = s.entry["name"] = f"{name}-{len(seen)}"
        seen.add(name)
        if s.exceptions:
            lines.append(
                f"  # FLAGGED: {s.note}: holds in {100 * s.rate:.3f}% of the {s.applies:,} rows it applies to "
                f"({s.exceptions:,} exception{'s' if s.exceptions > 1 else ''})"
            )
        else:
            lines.append(f"  # {s.note}: holds in all {s.applies:,} rows it applies to")
        for i, (key, value) in enumerate(s.entry.items()):
            flow = None if isinstance(value, dict) else False  # nested lists inline, the rule's own keys in blocks
            text = yaml.safe_dump(
                {key: value}, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=flow
            )
            lines.extend(("  - " if i == 0 and j == 0 else "    ") + line for j, line in enumerate(text.splitlines()))
    return "\n".join(lines) + "\n"
