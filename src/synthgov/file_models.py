"""Declared models of the files a user writes: the schema file, the rules spec, the value rules file and the policy
file (pydantic).

Each file is checked against its model before it is used, and a mistake is one error naming the field (``policy
file p.yaml: max_synthetic_share: Input should be less than or equal to 1``). The models' JSON Schemas are
published in ``docs/schemas/`` (``python -m synthgov.file_models docs/schemas`` writes them; a test keeps them
current), so editors and CI pipelines can check the files too. Checks that span fields (min <= max, a rule's
columns exist, a distribution's own parameters) stay with the code that reads each file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthgov.errors import InputError

KIND = Literal["numeric", "categorical", "boolean", "datetime", "id", "text", "pii"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ColumnOptions(_Strict):
    """How one column is treated (see docs/schema.md)."""

    kind: KIND
    missing_rate: float = Field(0.0, ge=0, le=1)
    integer: bool | None = None
    step: float | None = Field(None, gt=0)
    decimals: int | None = Field(None, ge=0, le=30)
    min: float | None = None
    max: float | None = None
    resolution: str | None = None
    timezone: str | None = None
    format: str | None = None
    max_categories: int | None = Field(None, ge=2)
    categories: list[str | int | float | bool] | None = None
    public: bool | None = None
    id_format: str | None = None
    pii_type: str | None = None
    flags: list[str] = Field(default_factory=list)
    dtype: str | None = None


class RangeRule(_Strict):
    """``range: {column: age, min: 17, max: 90}``: the column's values lie in [min, max] (missing values allowed)."""

    model_config = ConfigDict(extra="forbid", strict=False)
    column: str = Field(min_length=1)
    min: float | str | None = None
    max: float | str | None = None


class AllowedRule(_Strict):
    """``allowed: {columns: [a, b], values: [[x, 1], [y, 2]]}``: only these combinations of the columns occur."""

    model_config = ConfigDict(extra="forbid", strict=False)
    columns: list[str] = Field(min_length=1)
    values: list[list[str | int | float | bool | None]] = Field(min_length=1)


class ValueRule(BaseModel):
    """One value rule (docs/governance.md): exactly one of ``check`` (any expression of the safe language),
    ``if`` + ``then`` (a conditional rule), ``range``, ``allowed`` (fixed combinations), ``forbidden`` (a combination
    that must never occur, as {column: value}) or ``unique`` (a column without repeated values); ``name`` is
    optional."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str | None = Field(None, min_length=1, max_length=200)
    check: str | None = Field(None, min_length=1)
    condition: str | None = Field(None, alias="if", min_length=1)
    then: str | None = Field(None, min_length=1)
    range: RangeRule | None = None
    allowed: AllowedRule | None = None
    forbidden: dict[str, str | int | float | bool | None] | None = Field(None, min_length=1)
    unique: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> ValueRule:
        if (self.condition is None) != (self.then is None):
            raise ValueError("a conditional rule needs both 'if' and 'then'")
        kinds = [k for k in ("check", "condition", "range", "allowed", "forbidden", "unique") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                "a rule is exactly one of check, if/then, range, allowed, forbidden, unique"
                + (f" (this one has {', '.join('if' if k == 'condition' else k for k in kinds)})" if kinds else "")
            )
        return self


class ValueRulesFile(BaseModel):
    """A value rules file (``--rules rules.yaml``; ``synthgov rules suggest`` writes one): rules that every released
    row satisfies. A bare string in ``rules`` is a ``check``."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    rules: list[ValueRule] = Field(min_length=1)

    @field_validator("rules", mode="before")
    @classmethod
    def _bare_checks(cls, value: Any) -> Any:
        return _bare_checks(value)


def _bare_checks(value: Any) -> Any:
    """A bare string in a list of rules is a ``check``."""
    if isinstance(value, list):
        return [{"check": item} if isinstance(item, str) else item for item in value]
    return value


class SchemaFile(_Strict):
    """``synthgov schema`` output, edited by a person and passed back with ``--schema``; it may carry the value rules
    too (``rules:``, as in a value rules file)."""

    model_config = ConfigDict(extra="forbid", strict=False)  # YAML integers may stand for floats here
    version: Literal[1] = 1
    columns: dict[str, ColumnOptions] = Field(min_length=1)
    rules: list[ValueRule] | None = None

    @field_validator("rules", mode="before")
    @classmethod
    def _bare_checks(cls, value: Any) -> Any:
        return _bare_checks(value)


class WhenBranch(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    condition: str = Field(alias="if")
    then: dict[str, Any]


class RuleColumn(BaseModel):
    """A column of the rules spec: ``type`` and that distribution's parameters (checked by the distribution)."""

    model_config = ConfigDict(extra="allow")
    type: str
    missing: float = Field(0.0, ge=0, lt=1)
    when: list[WhenBranch] | None = None


class RulesSpec(BaseModel):
    """A rules spec (docs/rules.md): columns with distributions, ``when`` branches and row rules."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    rows: int | None = Field(None, ge=1, le=10**12)
    columns: dict[str, RuleColumn] = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)


class DriftPolicy(_Strict):
    """Thresholds of the drift monitor (``synthgov drift``; docs/governance.md): a change drifts when it crosses
    its threshold and its test rejects "no change" at ``alpha`` (Bonferroni over the findings)."""

    model_config = ConfigDict(extra="forbid", strict=False)
    rule_drop: float | None = Field(None, ge=0, le=1)
    marginal_distance: float | None = Field(None, ge=0, le=1)
    pair_drop: float | None = Field(None, ge=0, le=1)
    share_shift: float | None = Field(None, ge=0, le=1)
    label_rate_shift: float | None = Field(None, ge=0, le=1)
    alpha: float | None = Field(None, gt=0, lt=1)


class PolicyFile(_Strict):
    """Caps on what a release may be trained on (``$SYNTHGOV_HOME/policy.yaml`` or ``--policy``) and on the privacy
    budget of each source (``max_epsilon``, composed in zCDP and stated at ``budget_delta``, default 1e-5)."""

    max_generation_depth: int | None = Field(None, ge=0)
    max_synthetic_share: float | None = Field(None, ge=0, le=1)
    max_epsilon: float | None = Field(None, gt=0)
    budget_delta: float | None = Field(None, gt=0, lt=1)
    privacy_filter_distance: float | None = Field(None, ge=0)
    drift: DriftPolicy | None = None


class AuditClause(_Strict):
    """One clause of an audit policy: a fact of the release or of its evaluation (a dotted path such as
    ``release.epsilon`` or ``privacy.mia_auc``; ``*`` matches every key at its level, and then every match must
    pass) and one test of it (see docs/audit.md)."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    fact: str = Field(min_length=1)
    description: str | None = None
    min: float | None = None
    max: float | None = None
    equals: bool | float | str | None = None
    one_of: list[str] | None = Field(None, min_length=1)
    required: bool | None = None


class AuditPolicyFile(_Strict):
    """An audit policy (``synthgov audit RELEASE --policy FILE``): a name, what it is for, and its clauses."""

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    clauses: list[AuditClause] = Field(min_length=1)


MODELS: dict[str, type[BaseModel]] = {
    "schema-file": SchemaFile,
    "rules-spec": RulesSpec,
    "value-rules": ValueRulesFile,
    "policy-file": PolicyFile,
    "audit-policy": AuditPolicyFile,
}


def check(model: type[BaseModel], data: Any, where: str, error: type[InputError] = InputError) -> BaseModel:
    """``data`` as ``model``; otherwise ``error`` naming the first field that is wrong (and how many more)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors(include_url=False)
        first = problems[0]
        field = ".".join(str(part) for part in first["loc"]) or "(the file)"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        if first["type"] == "extra_forbidden":
            message = "unknown option (not a field of this file)"
        else:
            given = repr(first.get("input"))
            message = f"{first['msg']}, got {given if len(given) <= 60 else given[:57] + '...'}"
        raise error(f"{where}: {field}: {message}{more}") from None


def json_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema(by_alias=True) for name, model in MODELS.items()}


def write_json_schemas(folder: Path) -> list[Path]:
    import pydantic

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "GENERATED_BY").write_text(f"pydantic {pydantic.VERSION}\n", encoding="utf-8")
    paths = []
    for name, schema in json_schemas().items():
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_json_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(written)
