"""Sensitive groups as ``--fair`` names them: a categorical column (one group per category) or a numeric column
split at a threshold (``age>=25``: two groups, ``age>=25`` and ``age<25``)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

_SPLIT = re.compile(r"^\s*(?P<column>.+?)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[-+0-9.eE]+)\s*$")
_OPPOSITE = {">=": "<", ">": "<=", "<": ">=", "<=": ">"}


@dataclass(frozen=True)
class GroupSpec:
    """One sensitive attribute: ``column`` and, for a numeric column, the split ``op threshold``."""

    column: str
    op: str | None = None
    threshold: float | None = None
    categories: tuple[Any, ...] = ()  # a categorical column's values, in the table's order of frequency

    @property
    def text(self) -> str:
        return self.column if self.op is None else f"{self.column}{self.op}{self.threshold:g}"

    @property
    def is_split(self) -> bool:
        return self.op is not None

    @property
    def labels(self) -> list[str]:
        """The group names, as the manifest writes them."""
        if self.op is None:
            return [str(v) for v in self.categories]
        return [self.text, f"{self.column}{_OPPOSITE[self.op]}{self.threshold:g}"]

    def value_of(self, label: str) -> Any:
        """The category a group name stands for (a categorical column's groups are sampled under it)."""
        for value in self.categories:
            if str(value) == label:
                return value
        raise KeyError(label)

    def assign(self, frame: pd.DataFrame) -> pd.Series:
        """Each row's group name (missing where the row's value is missing)."""
        values = frame[self.column]
        if self.op is None:
            return values.astype(object).where(values.notna(), None).map(lambda v: None if v is None else str(v))
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        inside = {">=": numbers >= self.threshold, ">": numbers > self.threshold}.get(self.op)
        if inside is None:
            inside = numbers <= self.threshold if self.op == "<=" else numbers < self.threshold
        first, second = self.labels
        out = np.where(inside, first, second).astype(object)
        out[np.isnan(numbers)] = None
        return pd.Series(out, index=frame.index)


def parse_fair(
    names: list[str] | tuple[str, ...],
    table: pd.DataFrame,
    kinds: dict[str, str],
    declared: dict[str, list[Any] | None] | None = None,
) -> list[GroupSpec]:
    """``--fair`` entries checked against the table: an unknown column, a numeric column without a split, a split
    of a non-numeric column, a column with missing values or a single group: one clear line each. ``declared``
    (a DP release): the public categories of the schema, used instead of reading the table's values."""
    specs: list[GroupSpec] = []
    for entry in names:
        for name in (part for part in str(entry).split(",") if part.strip()):
            specs.append(_one(name.strip(), table, kinds, declared))
    if not specs:
        raise InputError("--fair names no column")
    columns = [s.column for s in specs]
    if len(set(columns)) < len(columns):
        raise InputError(f"--fair names a column twice: {', '.join(columns)}")
    return specs


def _one(name: str, table: pd.DataFrame, kinds: dict[str, str], declared: dict[str, Any] | None) -> GroupSpec:
    match = _SPLIT.match(name) if name not in table.columns else None
    column = match.group("column") if match else name
    if column not in table.columns:
        known = ", ".join(map(str, table.columns))
        raise InputError(f"--fair column '{column}' is not in the table (columns: {known})")
    kind = kinds.get(column, "")
    if kind in ("id", "pii", "text"):
        raise InputError(f"--fair column '{column}' is a {kind} column (generated fresh): it cannot define groups")
    if declared is not None:
        return _declared(name, column, kind, match, declared.get(column))
    if table[column].isna().any():
        raise InputError(
            f"--fair column '{column}' has {int(table[column].isna().sum()):,} missing values: give them a value "
            "(a group of their own) first"
        )
    if match:
        if kind != "numeric":
            raise InputError(f"--fair {name}: a split needs a numeric column; '{column}' is {kind or 'not numeric'}")
        spec = GroupSpec(column, match.group("op"), float(match.group("value")))
        sizes = spec.assign(table).value_counts()
        if len(sizes) < 2:
            raise InputError(f"--fair {name}: every row of the table is on the same side of {spec.threshold:g}")
        return spec
    if kind == "numeric":
        raise InputError(
            f"--fair column '{column}' is numeric: split it into two groups, e.g. --fair '{column}>="
            f"{float(table[column].median()):g}'"
        )
    if kind == "datetime":
        raise InputError(f"--fair column '{column}' is a datetime column: it cannot define groups")
    counts = table[column].value_counts()
    if len(counts) < 2:
        raise InputError(f"--fair column '{column}' has a single value: there are no groups to compare")
    return GroupSpec(column, categories=tuple(counts.index))


def _declared(name: str, column: str, kind: str, match: Any, categories: list[Any] | None) -> GroupSpec:
    """A DP release's groups, from the schema's public domain (no value of the table is read)."""
    if match:
        if kind != "numeric":
            raise InputError(f"--fair {name}: a split needs a numeric column; '{column}' is {kind}")
        return GroupSpec(column, match.group("op"), float(match.group("value")))
    if kind not in ("categorical", "boolean") or not categories:
        raise InputError(
            f"--fair column '{column}' needs public categories in the schema of a DP release (synthgov schema "
            "TABLE --domains), or a split of a numeric column such as 'age>=25'"
        )
    if len(categories) < 2:
        raise InputError(f"--fair column '{column}' has a single declared category: there are no groups to compare")
    return GroupSpec(column, categories=tuple(categories))
