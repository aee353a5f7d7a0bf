"""The schema: what each column is and how synthgov must treat it.

A schema is inferred from data (:func:`synthgov.table.infer_schema`), written to YAML/JSON for a person to edit
(``synthgov schema data.csv``) and read back to override any inference. Column kinds:

``numeric``      continuous or integer numbers (``integer``, ``step``, ``decimals``, ``min``/``max`` bounds)
``categorical``  a finite set of values (strings, numbers); rare values of high-cardinality columns are pooled
``boolean``      true/false
``datetime``     timestamps or dates at a ``resolution`` (D, h, m, s, ms, us), optionally time-zone aware
``id``           an identifier or primary key: generated fresh, never copied
``text``         free text (flagged): generated from a word model, never copied whole
``pii``          personal data (``pii_type``: email, phone, name, ...): replaced by fake values, never modelled

Differential privacy needs each column's domain without reading the data for it: ``categories`` lists a
categorical column's values, and ``public: true`` declares that column's domain (``categories``, or ``min``/``max``
of a number) public knowledge, such as a codebook's (docs/privacy.md). Other columns' domains are not used by the
DP generators.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from synthgov.errors import SchemaError

Kind = Literal["numeric", "categorical", "boolean", "datetime", "id", "text", "pii"]
KINDS: tuple[str, ...] = ("numeric", "categorical", "boolean", "datetime", "id", "text", "pii")
PII_TYPES: tuple[str, ...] = (
    "email",
    "phone",
    "name",
    "first_name",
    "last_name",
    "national_id",
    "address",
    "ip_address",
    "credit_card",
    "iban",
    "url",
)
MODELLED_KINDS: frozenset[str] = frozenset({"numeric", "categorical", "boolean", "datetime"})
SCHEMA_VERSION = 1


@dataclass
class ColumnSchema:
    """One column: its kind and the options of that kind (unused options stay ``None``)."""

    name: str
    kind: Kind
    missing_rate: float = 0.0
    # numeric
    integer: bool | None = None
    step: float | None = None
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    # datetime
    resolution: str | None = None
    timezone: str | None = None
    format: str | None = None
    # categorical
    max_categories: int | None = None
    categories: list[Any] | None = None
    # the domain above (categories, or min/max) is public knowledge: the DP generators may use it without charge
    public: bool | None = None
    # id
    id_format: str | None = None
    # pii
    pii_type: str | None = None
    # informational: why a kind was chosen, warnings to show a person
    flags: list[str] = field(default_factory=list)
    dtype: str | None = None

    @property
    def modelled(self) -> bool:
        return self.kind in MODELLED_KINDS

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None and v != []}
        out.pop("name")
        return out

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> ColumnSchema:
        if not isinstance(data, dict):
            raise SchemaError(f"schema: column '{name}' must be a mapping of options, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"name"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SchemaError(f"schema: column '{name}' has unknown option(s) {', '.join(unknown)}")
        col = cls(name=name, **data)
        col.validate()
        return col

    def validate(self) -> None:
        from synthgov.table.datetimes import RESOLUTIONS

        if self.kind not in KINDS:
            raise SchemaError(
                f"schema: column '{self.name}' has kind '{self.kind}'; expected one of {', '.join(KINDS)}"
            )
        if self.kind == "pii" and self.pii_type not in PII_TYPES:
            raise SchemaError(
                f"schema: column '{self.name}' is pii with pii_type '{self.pii_type}'; "
                f"expected one of {', '.join(PII_TYPES)}"
            )
        if self.kind == "datetime" and self.resolution is not None and self.resolution not in RESOLUTIONS:
            raise SchemaError(
                f"schema: column '{self.name}' has resolution '{self.resolution}'; "
                f"expected one of {', '.join(RESOLUTIONS)}"
            )
        if self.step is not None and not self.step > 0:
            raise SchemaError(f"schema: column '{self.name}' has step {self.step}; it must be positive")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise SchemaError(f"schema: column '{self.name}' has min {self.min} > max {self.max}")
        if self.categories is not None:
            if self.kind != "categorical":
                raise SchemaError(
                    f"schema: column '{self.name}' is {self.kind}; only a categorical column lists categories"
                )
            if not self.categories or len({repr(c) for c in self.categories}) != len(self.categories):
                raise SchemaError(f"schema: column '{self.name}' must list its categories once each, at least one")
        if not 0.0 <= self.missing_rate <= 1.0:
            raise SchemaError(f"schema: column '{self.name}' has missing_rate {self.missing_rate} outside [0, 1]")


@dataclass
class Schema:
    """An ordered set of column schemas."""

    columns: list[ColumnSchema]

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SchemaError(f"schema: duplicate column name(s) {', '.join(dupes)}")

    def __getitem__(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def of_kind(self, *kinds: str) -> list[ColumnSchema]:
        return [c for c in self.columns if c.kind in kinds]

    # -- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"version": SCHEMA_VERSION, "columns": {c.name: c.to_dict() for c in self.columns}}

    @classmethod
    def from_dict(cls, data: Any) -> Schema:
        from synthgov.file_models import SchemaFile, check

        if isinstance(data, dict) and isinstance(data.get("columns"), dict):
            check(SchemaFile, data, "schema", SchemaError)
        if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
            raise SchemaError("schema: expected a mapping with a 'columns' mapping of column name -> options")
        version = data.get("version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise SchemaError(f"schema: unsupported version {version} (this synthgov reads version {SCHEMA_VERSION})")
        return cls([ColumnSchema.from_dict(str(name), opts or {}) for name, opts in data["columns"].items()])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        data = self.to_dict()
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        else:
            import yaml

            header = (
                "# synthgov schema: edit any column's kind or options, then pass it with --schema.\n"
                "# kinds: numeric, categorical, boolean, datetime, id, text, pii (pii_type: "
                + ", ".join(PII_TYPES)
                + ")\n"
            )
            path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        path = Path(path)
        if not path.is_file():
            raise SchemaError(f"schema file not found: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SchemaError(f"schema file {path} is not UTF-8 text") from None
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except RecursionError:
            raise SchemaError(f"schema file {path} is nested too deeply") from None
        except (ValueError, Exception) as exc:  # yaml.YAMLError has no common base with ValueError
            raise SchemaError(f"schema file {path} is not valid {path.suffix[1:].upper() or 'YAML'}: {exc}") from None
        return cls.from_dict(data)

    def check_against(self, columns: list[str]) -> None:
        """Raise :class:`SchemaError` unless the data has exactly the schema's columns."""
        missing = [c for c in self.names if c not in columns]
        extra = [c for c in columns if c not in self]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"columns in the schema but not in the data: {', '.join(map(str, missing))}")
            if extra:
                parts.append(f"columns in the data but not in the schema: {', '.join(map(str, extra))}")
            raise SchemaError("schema does not match the data: " + "; ".join(parts))
