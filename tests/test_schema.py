"""Schema inference, the schema file, and reading tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgov.errors import InputError, SchemaError
from synthgov.table import Schema, infer_schema, read_table


def test_adult_kinds(adult: pd.DataFrame) -> None:
    schema = infer_schema(adult)
    numeric = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"}
    assert {c.name for c in schema.of_kind("numeric")} == numeric
    assert {c.name for c in schema.of_kind("categorical")} == set(adult.columns) - numeric
    assert all(schema[c].integer for c in numeric)
    assert schema["workclass"].missing_rate == pytest.approx(adult["workclass"].isna().mean(), abs=1e-6)


def test_german_has_no_false_pii(german: pd.DataFrame) -> None:
    schema = infer_schema(german)
    assert not schema.of_kind("pii", "id", "text")


def test_special_columns(mixed: pd.DataFrame) -> None:
    n = len(mixed)
    rng = np.random.default_rng(0)
    frame = mixed.assign(
        email=[f"user{i}@mail.example.org" for i in range(n)],
        phone=[f"+44 20 7946 {i:04d}" for i in range(n)],
        ssn=[f"{rng.integers(100, 899)}-{rng.integers(10, 99)}-{rng.integers(1000, 9999)}" for _ in range(n)],
        full_name=[f"Ann{chr(97 + i % 26)} Smith{chr(97 + i // 26 % 26)}" for i in range(n)],
        uuid=[f"{i:08x}-1234-4abc-8def-{i:012x}" for i in range(n)],
        order_code=[f"ORD-{i:06d}" for i in range(n)],
        note=[f"customer called about order {i} and asked for a refund of the item {i % 7}" for i in range(n)],
        counted=np.arange(n) % 3 == 0,
    )
    schema = infer_schema(frame)
    assert schema["email"].kind == "pii" and schema["email"].pii_type == "email"
    assert schema["phone"].pii_type == "phone"
    assert schema["ssn"].pii_type == "national_id"
    assert schema["full_name"].pii_type == "name"
    assert schema["uuid"].kind == "id" and schema["uuid"].id_format == "uuid"
    assert schema["order_code"].kind == "id" and schema["order_code"].id_format.startswith("counter:ORD-")
    assert schema["record_id"].kind == "id" and schema["record_id"].id_format == "int"
    assert schema["note"].kind == "text" and any("free text" in f for f in schema["note"].flags)
    assert schema["counted"].kind == "boolean"
    assert schema["count5"].step == 5
    assert schema["price"].decimals == 2
    assert schema["when"].kind == "datetime" and schema["when"].resolution == "D"
    assert schema["old"].kind == "datetime" and schema["old"].resolution == "D"
    assert schema["stamp"].timezone == "Europe/Paris" and schema["stamp"].resolution == "s"


def test_high_cardinality_is_flagged_and_capped() -> None:
    values = [f"v{i % 3000}" for i in range(9000)]
    col = infer_schema(pd.DataFrame({"code": values, "x": np.arange(9000)}))["code"]
    assert col.kind == "categorical" and col.max_categories == 500
    assert any("high cardinality" in f for f in col.flags)


def test_schema_file_round_trip_and_override(tmp_path, mixed: pd.DataFrame) -> None:
    import synthgov

    schema = infer_schema(mixed)
    for suffix in (".yaml", ".json"):
        path = schema.save(tmp_path / f"s{suffix}")
        assert Schema.load(path).to_dict() == schema.to_dict()
    # A person turns the numeric column x into a categorical one, then fits with the edited file.
    text = (tmp_path / "s.yaml").read_text().replace("  count5:\n    kind: numeric", "  count5:\n    kind: categorical")
    (tmp_path / "edited.yaml").write_text(text)
    edited = Schema.load(tmp_path / "edited.yaml")
    assert edited["count5"].kind == "categorical"
    model = synthgov.synthesizer("copula", seed=0).fit(mixed, tmp_path / "edited.yaml")
    assert model.schema_["count5"].kind == "categorical"
    assert set(model.sample(300, seed=0)["count5"]) <= set(mixed["count5"])


def test_schema_errors(tmp_path, mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed)
    with pytest.raises(SchemaError, match="not in the data: x"):
        schema.check_against([c for c in mixed.columns if c != "x"])
    with pytest.raises(SchemaError, match="not in the schema: extra"):
        schema.check_against([*mixed.columns, "extra"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  a: {kind: banana}\n")
    with pytest.raises(SchemaError, match=r"columns\.a\.kind: Input should be 'numeric'.*got 'banana'"):
        Schema.load(bad)
    bad.write_text("columns:\n  a: {kind: numeric, colour: red}\n")
    with pytest.raises(SchemaError, match=r"columns\.a\.colour: unknown option"):
        Schema.load(bad)
    bad.write_text("columns:\n  a: {kind: numeric, missing_rate: 1.5}\n")
    with pytest.raises(
        SchemaError, match=r"columns\.a\.missing_rate: Input should be less than or equal to 1, got 1\.5"
    ):
        Schema.load(bad)
    bad.write_text("columns: [unclosed\n")
    with pytest.raises(SchemaError, match="not valid"):
        Schema.load(bad)


def test_read_table_formats_and_errors(tmp_path, mixed: pd.DataFrame) -> None:
    import pyarrow as pa

    mixed.to_parquet(tmp_path / "t.parquet")
    mixed.to_csv(tmp_path / "t.csv.gz", index=False)
    assert read_table(tmp_path / "t.parquet").shape == mixed.shape
    assert read_table(tmp_path / "t.csv.gz").shape == mixed.shape
    assert read_table(pa.Table.from_pandas(mixed)).shape == mixed.shape
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="empty"):
        read_table(tmp_path / "header.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81\x82garbage\x00\x00")
    with pytest.raises(InputError, match="cannot read CSV"):
        read_table(tmp_path / "binary.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="cannot read Parquet"):
        read_table(tmp_path / "bad.parquet")
    (tmp_path / "t.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match="unsupported file type"):
        read_table(tmp_path / "t.xlsx")
