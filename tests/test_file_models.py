"""The schema file, the rules spec and the policy file are checked against declared models (issue 24), whose
published JSON Schemas stay current; damaged issuer records are skipped with a logged trace."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from synthgov.errors import InputError
from synthgov.file_models import json_schemas
from synthgov.generators.rules.spec import Spec
from synthgov.governance.guard import Policy

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def _fields(schema: dict) -> dict[str, set[str]]:
    """Every object of a JSON Schema and its property names (what older pydantic versions write alike)."""
    out = {"": set(schema.get("properties", {}))}
    out.update({name: set(d.get("properties", {})) for name, d in schema.get("$defs", {}).items()})
    return out


def test_the_published_json_schemas_are_current() -> None:
    import pydantic

    same_writer = (DOCS / "GENERATED_BY").read_text().strip() == f"pydantic {pydantic.VERSION}"
    for name, schema in json_schemas().items():
        published = json.loads((DOCS / f"{name}.schema.json").read_text())
        hint = f"run: python -m synthgov.file_models docs/schemas ({name})"
        if same_writer:  # byte for byte what the models say now
            assert published == json.loads(json.dumps(schema)), hint
        else:  # another pydantic writes some keywords differently (const / enum): the fields must still agree
            assert _fields(published) == _fields(schema), hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_synthetic_share: 1.5\n", "max_synthetic_share: Input should be less than or equal to 1, got 1.5"),
        ("max_generation_depth: -1\n", "max_generation_depth: Input should be greater than or equal to 0"),
        ("max_generation_depth: yes\n", "max_generation_depth: Input should be a valid integer, got True"),
        ("max_depth: 2\n", "max_depth: unknown option"),
        ("[1, 2]\n", "(the file): Input should be a valid dictionary"),
        ("a: [unclosed\n", "is not valid YAML"),
    ],
)
def test_policy_mistakes_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        Policy.load(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_valid_policy_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("max_generation_depth: 1\nmax_synthetic_share: 0.25\n")
    assert Policy.load(path) == Policy(1, 0.25)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"columns": {"a": {"type": "uniform", "low": 0, "high": 1}}, "rows": 0}, "rows: Input should be greater"),
        ({"columns": {"a": {"type": "uniform", "low": 0, "high": 1, "missing": 1}}}, "columns.a.missing"),
        ({"columns": {"a": {"low": 0}}}, "columns.a.type: Field required"),
        ({"columns": {"a": {"type": "uniform", "when": [{"if": "x"}]}}}, "columns.a.when.0.then: Field required"),
        ({"columns": {"a": {"type": "uniform"}}, "rules": "a > 0"}, "rules: Input should be a valid list"),
        ({"columns": {"a": {"type": "uniform"}}, "colour": 1}, "colour: unknown option"),
    ],
)
def test_rules_spec_mistakes_name_the_field(spec: dict, message: str) -> None:
    with pytest.raises(InputError, match="rules spec") as caught:
        Spec.parse(spec)
    assert message in str(caught.value)


def test_damaged_records_leave_a_trace(tmp_path: Path, monkeypatch, caplog: pytest.LogCaptureFixture) -> None:
    from synthgov.release import ledger
    from synthgov.watermark import registry

    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path))
    (tmp_path / "releases").mkdir()
    (tmp_path / "releases" / "bad.json").write_text("{truncated")
    (tmp_path / "releases" / "list.json").write_text("[1]")
    (tmp_path / "watermarks").mkdir()
    (tmp_path / "watermarks" / "bad.json").write_text('{"id": 1}')
    with caplog.at_level(logging.WARNING):
        assert ledger.entries() == []
        assert registry.plans_for("wm:0") == []
    text = caplog.text
    assert "skipped the damaged entry" in text and "bad.json" in text and "list.json (not a ledger entry)" in text
    assert "watermark plans: skipped the damaged record" in text
