"""A corpus of broken and hostile inputs for every CLI command (issue 24): tables, rules specs, schema files,
model files and release folders, each made here (nothing downloaded), each with the commands that read it."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_COMMANDS = ("generate", "schema", "guard", "detect", "evaluate")


@dataclass
class Case:
    name: str
    make: Callable[[Path], Path]  # writes the input under the folder given, returns its path
    commands: tuple[str, ...]


def _write(name: str, data: bytes | str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    return make


def _frame(name: str, frame: pd.DataFrame) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        if name.endswith(".csv"):
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        return path

    return make


def _csv_cases() -> list[Case]:
    rng = np.random.default_rng(0)
    texts = {
        "empty": "",
        "newline": "\n",
        "header only": "a,b,c\n",
        "one cell": "a\n1\n",
        "binary": bytes(rng.integers(0, 256, 2000, dtype=np.uint8)),
        "nul bytes": "a,b\n1,\x00\n2,\x00\x00\n",
        "unbalanced quote": 'a,b\n"1,2\n3,4\n',
        "ragged rows": "a,b\n1\n1,2,3,4\n5,6\n",
        "duplicate names": "a,a,b\n1,2,3\n4,5,6\n",
        "blank names": ",,\n1,2,3\n4,5,6\n",
        "spaces in names": " a , a\n1,2\n3,4\n",
        "latin-1": "name,city\nJos\xe9,M\xe1laga\n".encode("latin-1"),
        "bom": "\ufeffa,b\n1,2\n3,4\n",
        "only commas": ",,,\n,,,\n,,,\n",
        "all missing": "a,b\n,\n,\n,\n",
        "huge field": "a,b\n" + "x" * 2_000_000 + ",1\n",
        "long header": ",".join(f"c{i}" for i in range(3000)) + "\n" + ",".join("1" * 3000) + "\n",
        "nan strings": "a,b\nnan,NaN\nNULL,None\ninf,-inf\n",
        "huge numbers": "a,b\n1e308,1e-308\n-1e308,9" + "9" * 400 + "\n",
        "mixed types": "a,b\n1,x\nx,2\n2020-01-01,True\n",
        "dates odd": "d\n2020-02-30\n0000-01-01\n9999-12-31\n",
        "tz mixed": "t\n2020-01-01T00:00:00+01:00\n2020-01-01T00:00:00Z\n2020-01-01\n",
        "formula injection": "a,b\n=cmd|' /C calc'!A0,1\n+1+1,2\n@SUM(1),3\n",
        "html in names": '"<script>alert(1)</script>","a"\'b"\n1,2\n3,4\n',
        "path names": "../../etc/passwd,/abs\n1,2\n3,4\n",
        "unicode": "名前,🙂\n太郎,😀\n花子,😃\n",
        "crlf": "a,b\r\n1,2\r\n3,4\r\n",
        "tabs": "a\tb\n1\t2\n",
        "single row": "a,b,c\n1,x,2020-01-01\n",
        "constant": "a,b\n" + "1,x\n" * 50,
        "control chars": "a,b\n\x01\x02,\x1b[31mred\n\x7f,\x08\n",
        "deep quotes": 'a\n"' + '""' * 5000 + '"\n',
        "many columns few rows": ",".join(f"c{i}" for i in range(500)) + "\n" + ",".join(["1"] * 500) + "\n",
        "numeric names": "1,2,3\n4,5,6\n7,8,9\n",
        "gz not gzip": "a,b\n1,2\n",
    }
    cases = []
    for label, text in texts.items():
        name = "table.csv.gz" if label == "gz not gzip" else "table.csv"
        cases.append(Case(f"csv: {label}", _write(name, text), TABLE_COMMANDS))
    return cases


def _parquet_cases() -> list[Case]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def _arrow(name: str, table: pa.Table) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            pq.write_table(table, folder / name)
            return folder / name

        return make

    good = pd.DataFrame({"a": np.arange(50), "b": ["x", "y"] * 25})
    buffer = io.BytesIO()
    good.to_parquet(buffer, index=False)
    valid = buffer.getvalue()
    cases = [
        Case("parquet: garbage", _write("t.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1"), TABLE_COMMANDS),
        Case("parquet: truncated", _write("t.parquet", valid[: len(valid) // 2]), TABLE_COMMANDS),
        Case("parquet: tail cut", _write("t.parquet", valid[:-8]), TABLE_COMMANDS),
        Case("parquet: csv inside", _write("t.parquet", "a,b\n1,2\n"), TABLE_COMMANDS),
        Case("parquet: empty file", _write("t.parquet", b""), TABLE_COMMANDS),
        Case("parquet: zero rows", _frame("t.parquet", good.head(0)), TABLE_COMMANDS),
        Case("parquet: zero columns", _arrow("t.parquet", pa.table({})), TABLE_COMMANDS),
        Case(
            "parquet: list column",
            _arrow("t.parquet", pa.table({"a": list(range(40)), "l": [[1, 2]] * 40})),
            TABLE_COMMANDS,
        ),
        Case(
            "parquet: struct column",
            _arrow("t.parquet", pa.table({"a": list(range(40)), "s": [{"x": 1, "y": "z"}] * 40})),
            TABLE_COMMANDS,
        ),
        Case(
            "parquet: map column",
            _arrow(
                "t.parquet",
                pa.table({"a": list(range(40)), "m": pa.array([[("k", 1)]] * 40, pa.map_(pa.string(), pa.int64()))}),
            ),
            TABLE_COMMANDS,
        ),
        Case(
            "parquet: binary column",
            _arrow("t.parquet", pa.table({"a": list(range(40)), "b": [b"\x00\xff"] * 40})),
            TABLE_COMMANDS,
        ),
        Case(
            "parquet: decimal",
            _arrow("t.parquet", pa.table({"d": pa.array([1, 2] * 20, pa.decimal128(10, 2))})),
            TABLE_COMMANDS,
        ),
        Case(
            "parquet: duration",
            _arrow("t.parquet", pa.table({"d": pa.array([1, 2] * 20, pa.duration("s"))})),
            TABLE_COMMANDS,
        ),
        Case("parquet: all null", _arrow("t.parquet", pa.table({"n": pa.nulls(40)})), TABLE_COMMANDS),
        Case(
            "parquet: dictionary",
            _arrow("t.parquet", pa.table({"c": pa.array(["a", "b"] * 20).dictionary_encode()})),
            TABLE_COMMANDS,
        ),
        Case(
            "parquet: huge ints",
            _arrow("t.parquet", pa.table({"u": pa.array([2**64 - 1, 0] * 20, pa.uint64())})),
            TABLE_COMMANDS,
        ),
        Case(
            "parquet: far dates",
            _arrow("t.parquet", pa.table({"d": pa.array([0, 2**62] * 20, pa.timestamp("us"))})),
            TABLE_COMMANDS,
        ),
        Case(
            "parquet: float specials",
            _frame("t.parquet", pd.DataFrame({"f": [np.inf, -np.inf, np.nan, 0.0] * 10})),
            TABLE_COMMANDS,
        ),
        Case("parquet: named .csv", _write("t.csv", valid), TABLE_COMMANDS),
        Case("unsupported suffix", _write("t.xlsx", b"PK\x03\x04"), TABLE_COMMANDS),
        Case("a folder", lambda folder: (folder / "dir").mkdir() or folder / "dir", TABLE_COMMANDS),
        Case("missing file", lambda folder: folder / "nope.csv", TABLE_COMMANDS),
    ]
    return cases


def _spec_cases() -> list[Case]:
    specs = {
        "empty": "",
        "a list": "- a\n- b\n",
        "a number": "42\n",
        "no columns": "name: x\n",
        "columns a list": "columns: [a, b]\n",
        "unknown type": "columns:\n  a: {type: nope}\n",
        "missing params": "columns:\n  a: {type: normal}\n",
        "negative sd": "columns:\n  a: {type: normal, mean: 0, sd: -1}\n",
        "weights zero": "columns:\n  a: {type: categorical, weights: {x: 0, y: 0}}\n",
        "cycle": "columns:\n  a: {type: normal, mean: b, sd: 1}\n  b: {type: normal, mean: a, sd: 1}\n",
        "python code": "columns:\n  a: {type: normal, mean: \"__import__('os').system('touch PWNED')\", sd: 1}\n",
        "dunder attribute": 'columns:\n  a: {type: normal, mean: "(1).__class__", sd: 1}\n',
        "lambda": 'columns:\n  a: {type: normal, mean: "(lambda: 1)()", sd: 1}\n',
        "impossible rule": 'columns:\n  a: {type: uniform, low: 0, high: 1}\nrules: ["a > 2"]\n',
        "bad rule": 'columns:\n  a: {type: uniform, low: 0, high: 1}\nrules: ["a >"]\n',
        "rows negative": "rows: -5\ncolumns:\n  a: {type: uniform, low: 0, high: 1}\n",
        "rows text": "rows: many\ncolumns:\n  a: {type: uniform, low: 0, high: 1}\n",
        "rows huge": "rows: 100000000000000\ncolumns:\n  a: {type: uniform, low: 0, high: 1}\n",
        "billion laughs": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(8)
        )
        + "columns: *i\n",
        "python tag": "columns: !!python/object/apply:os.system ['touch PWNED']\n",
        "deep nesting": "columns: " + "[" * 5000 + "]" * 5000 + "\n",
        "tabs": "columns:\n\ta: {type: uniform}\n",
        "binary": b"\xff\xfe\x00\x01columns",
        "bad pattern": 'columns:\n  a: {type: id, pattern: "["}\n',
        "huge pattern": 'columns:\n  a: {type: id, pattern: "[0-9]{100000000}"}\n',
        "faker unknown": "columns:\n  a: {type: faker, provider: __init__}\n",
        "datetime bad": "columns:\n  a: {type: datetime, start: notadate, end: 2020-01-01}\n",
        "datetime reversed": "columns:\n  a: {type: datetime, start: 2030-01-01, end: 2020-01-01}\n",
        "when not list": "columns:\n  a: {type: normal, mean: 0, sd: 1, when: 3}\n",
        "missing share": "columns:\n  a: {type: normal, mean: 0, sd: 1, missing: 2}\n",
        "unicode names": 'columns:\n  "名前": {type: categorical, values: [a]}\n',
        "duplicate keys": "columns:\n  a: {type: uniform, low: 0, high: 1}\n  a: {type: uniform, low: 0, high: 1}\n",
        "poisson negative": "columns:\n  a: {type: poisson, lam: -1}\n",
        "formula unknown": 'columns:\n  a: {type: formula, expr: "zz + 1"}\n',
        "constant only": "columns:\n  a: {type: constant, value: 1}\n",
    }
    return [
        Case(f"spec: {label}", _write("spec.yaml", text), ("generate-rules", "fit-rules"))
        for label, text in specs.items()
    ]


def _schema_cases() -> list[Case]:
    schemas = {
        "empty": "",
        "garbage": "{{{{",
        "a list": "- 1\n",
        "columns missing": "version: 1\n",
        "unknown kind": "columns:\n  - {name: a, kind: spaceship}\n  - {name: b, kind: categorical}\n",
        "unknown column": "columns:\n  - {name: zz, kind: numeric}\n",
        "missing column": "columns:\n  - {name: a, kind: numeric}\n",
        "wrong types": "columns:\n  - {name: a, kind: numeric, min: high}\n  - {name: b, kind: categorical}\n",
        "negative categories": "columns:\n  - {name: a, kind: numeric}\n  - {name: b, kind: categorical, max_categories: -3}\n",
        "python tag": "columns: !!python/object/apply:os.system ['touch PWNED']\n",
        "deep nesting": "columns: " + "[" * 5000 + "]" * 5000 + "\n",
        "binary": b"\x00\x01\x02\xff",
        "json": json.dumps({"columns": [{"name": "a", "kind": "numeric"}, {"name": "b", "kind": 7}]}),
        "kind swap": "columns:\n  - {name: a, kind: datetime}\n  - {name: b, kind: numeric}\n",
        "duplicate column": "columns:\n  - {name: a, kind: numeric}\n  - {name: a, kind: numeric}\n  - {name: b, kind: categorical}\n",
    }
    return [
        Case(f"schema: {label}", _write("schema.yaml", text), ("generate-schema",)) for label, text in schemas.items()
    ]


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npz(arrays: dict[str, bytes]) -> bytes:
    return _zip({f"{k}.npy": v for k, v in arrays.items()})


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _model(state: object = None, params: object = None, generator: str = "copula", version: int = 1, **extra) -> bytes:
    body = {
        "format": "synthgov-model",
        "format_version": version,
        "generator": generator,
        "params": {} if params is None else params,
        "state": {} if state is None else state,
    }
    entries = {"model.json": json.dumps(body).encode(), "arrays.npz": _npz({"a0": _npy(np.arange(3.0))})}
    entries.update(extra)
    return _zip(entries)


ONE_ARRAY_MODEL = json.dumps(
    {
        "format": "synthgov-model",
        "format_version": 1,
        "generator": "copula",
        "params": {},
        "state": {"x": {"__array__": "a0"}},
    }
).encode()


def _model_cases() -> list[Case]:
    header_lie = _npy(np.arange(3.0)).replace(b"(3,)", b"(1000000000000,)")
    big_header = b"\x93NUMPY\x01\x00" + (60000).to_bytes(2, "little") + b"{" + b" " * 59998 + b"\n"
    bomb = _zip({"model.json": b"{}", "arrays.npz": _npz({}), **{f"pad{i}": b"" for i in range(200)}})
    deep = (
        b'{"format": "synthgov-model", "format_version": 1, "generator": "copula", "params": {}, "state": '
        + b"[" * 200000
        + b"]" * 200000
        + b"}"
    )
    models = {
        "garbage": b"\x80\x04not a zip",
        "empty": b"",
        "truncated zip": _model()[:40],
        "no model.json": _zip({"arrays.npz": _npz({})}),
        "no arrays": _zip({"model.json": b"{}"}),
        "json garbage": _zip({"model.json": b"{not json", "arrays.npz": _npz({})}),
        "json a list": _zip({"model.json": b"[1, 2]", "arrays.npz": _npz({})}),
        "wrong format": _zip({"model.json": b'{"format": "other"}', "arrays.npz": _npz({})}),
        "future version": _model(version=99),
        "unknown generator": _model(generator="nope"),
        "generator a list": _model(generator=["copula"]),  # type: ignore[arg-type]
        "params wrong": _model(params={"no_such_param": 1}),
        "params a list": _model(params=[1, 2]),
        "state empty": _model(state={}),
        "state a string": _model(state="x"),
        "dangling array": _model(state={"x": {"__array__": "a99"}}),
        "array ref number": _model(state={"x": {"__array__": 5}}),
        "pickled object array": _zip(
            {
                "model.json": ONE_ARRAY_MODEL,
                "arrays.npz": _npz({"a0": _npy(np.array([{"x": 1}], dtype=object))}),
            }
        ),
        "npy header lies": _zip(
            {
                "model.json": ONE_ARRAY_MODEL,
                "arrays.npz": _npz({"a0": header_lie}),
            }
        ),
        "npy huge header": _zip({"model.json": b"{}", "arrays.npz": _npz({"a0": big_header})}),
        "npz garbage": _zip(
            {
                "model.json": json.dumps({"format": "synthgov-model", "format_version": 1}).encode(),
                "arrays.npz": b"not a zip",
            }
        ),
        "many members": bomb,
        "deep json": _zip({"model.json": deep, "arrays.npz": _npz({})}),
        "rules without spec": _model(generator="rules", state={"seed_": 1}),
        "rules spec hostile": _model(
            generator="rules",
            state={"seed_": 1, "spec": {"columns": {"a": {"type": "normal", "mean": "__import__('os')", "sd": 1}}}},
        ),
        "neural no weights": _model(generator="tvae", state={"seed_": 1}),
        "bad weights": _model(generator="tvae", state={"seed_": 1}, **{"weights.safetensors": b"\x00" * 16}),
        "path in member": _zip({"model.json": b"{}", "arrays.npz": _npz({}), "../../escape.txt": b"x"}),
    }
    return [Case(f"model: {label}", _write("model.synthgov", data), ("sample",)) for label, data in models.items()]


def _release_cases(release: Path) -> list[Case]:
    """Broken copies of a real release folder (``release``), for verify, detect and guard."""

    def edited(label: str, change: Callable[[Path], None]) -> Case:
        def make(folder: Path) -> Path:
            target = folder / "release"
            shutil.copytree(release, target)
            change(target)
            return target

        return Case(f"release: {label}", make, ("verify", "detect", "guard"))

    def manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
        def apply(folder: Path) -> None:
            document = json.loads((folder / "manifest.json").read_text())
            change(document)
            (folder / "manifest.json").write_text(json.dumps(document))

        return apply

    def files(d: dict) -> list:
        return d["statement"]["predicate"]["integrity"]["files"]

    def outside(folder: Path) -> None:
        (folder.parent / "outside.parquet").write_bytes((folder / "synthetic.parquet").read_bytes())
        document = json.loads((folder / "manifest.json").read_text())
        files(document)[0]["path"] = "../outside.parquet"
        (folder / "manifest.json").write_text(json.dumps(document))

    cases = [
        edited("no manifest", lambda f: (f / "manifest.json").unlink()),
        edited("empty manifest", lambda f: (f / "manifest.json").write_text("")),
        edited("manifest garbage", lambda f: (f / "manifest.json").write_bytes(b"\xff\x00{")),
        edited("manifest a list", lambda f: (f / "manifest.json").write_text("[]")),
        edited("manifest deep", lambda f: (f / "manifest.json").write_text("[" * 100000 + "]" * 100000)),
        edited(
            "manifest huge number", lambda f: (f / "manifest.json").write_text('{"statement": 1' + "0" * 100000 + "}")
        ),
        edited("no data file", lambda f: (f / "synthetic.parquet").unlink()),
        edited("data garbage", lambda f: (f / "synthetic.parquet").write_bytes(b"PAR1garbage")),
        edited("data empty", lambda f: (f / "synthetic.parquet").write_bytes(b"")),
        edited("data a folder", lambda f: ((f / "synthetic.parquet").unlink(), (f / "synthetic.parquet").mkdir())),
        edited("path outside", outside),
        edited("path absolute", manifest(lambda d: files(d)[0].update(path="/etc/passwd"))),
        edited("chunk_rows zero", manifest(lambda d: files(d)[0].update(chunk_rows=0))),
        edited("rows a string", manifest(lambda d: files(d)[0].update(rows="many"))),
        edited("sha missing", manifest(lambda d: files(d)[0].pop("sha256"))),
        edited("files missing", manifest(lambda d: d["statement"]["predicate"]["integrity"].pop("files"))),
        edited("signatures a dict", manifest(lambda d: d.update(signatures={"a": 1}))),
        edited("signature garbage", manifest(lambda d: d["signatures"][0].update(sig="!!!"))),
        edited("keyid a list", manifest(lambda d: d["signatures"][0].update(keyid=[1]))),
        edited("watermark a string", manifest(lambda d: d["statement"]["predicate"].update(watermark="yes"))),
        edited(
            "lineage forged", manifest(lambda d: d["statement"]["predicate"].update(lineage={"generation_depth": "x"}))
        ),
        edited("predicate missing", manifest(lambda d: d["statement"].pop("predicate"))),
        edited("subject garbage", manifest(lambda d: d["statement"].update(subject=[1, 2]))),
        edited("field digests garbage", manifest(lambda d: d.update(field_digests=[1]))),
        edited("extra file", lambda f: (f / "extra.bin").write_bytes(b"\x00" * 10)),
        edited("csv swapped in", lambda f: (f / "synthetic.parquet").write_bytes(b"a,b\n1,2\n")),
    ]
    return cases


KINDS = ("flip", "cut", "repeat")


def _damage(valid: bytes, i: int) -> bytes:
    """Seeded random damage number ``i`` to a valid file: flipped bytes, a cut tail, or a repeated block."""
    rng = np.random.default_rng(1000 + i)
    data = bytearray(valid)
    kind = KINDS[i % 3]
    if kind == "flip":
        for at in rng.integers(0, len(data), size=int(rng.integers(1, 20))):
            data[at] = int(rng.integers(0, 256))
    elif kind == "cut":
        data = data[: int(rng.integers(1, len(data)))]
    else:
        at = int(rng.integers(0, len(data)))
        data = data[:at] + data[at : at + 64] * int(rng.integers(2, 50)) + data[at:]
    return bytes(data)


def _mutated(label: str, name: str, valid: bytes, commands: tuple[str, ...], count: int) -> list[Case]:
    return [
        Case(f"{label}: mutation {i} ({KINDS[i % 3]})", _write(name, _damage(valid, i)), commands) for i in range(count)
    ]


def _valid_files() -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "n": rng.normal(size=60).round(3),
            "c": rng.choice(["a", "b", "c"], 60),
            "d": pd.date_range("2020", periods=60),
        }
    )
    csv, parquet = io.BytesIO(), io.BytesIO()
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    return {"csv": csv.getvalue(), "parquet": parquet.getvalue(), "model": _model()}


def _manifest_mutations(release: Path, count: int) -> list[Case]:
    cases = []
    for i in range(count):

        def make(folder: Path, i: int = i) -> Path:
            target = folder / "release"
            shutil.copytree(release, target)
            (target / "manifest.json").write_bytes(_damage((release / "manifest.json").read_bytes(), i))
            return target

        cases.append(Case(f"manifest: mutation {i} ({KINDS[i % 3]})", make, ("verify", "guard")))
    return cases


def corpus(release: Path) -> list[Case]:
    """Every case; nothing is read or written until a case's ``make`` runs (``release`` may not exist yet)."""
    valid = _valid_files()
    return [
        *_csv_cases(),
        *_parquet_cases(),
        *_spec_cases(),
        *_schema_cases(),
        *_model_cases(),
        *_release_cases(release),
        *_mutated("csv", "t.csv", valid["csv"], TABLE_COMMANDS, 15),
        *_mutated("parquet", "t.parquet", valid["parquet"], TABLE_COMMANDS, 15),
        *_mutated("model", "model.synthgov", valid["model"], ("sample",), 15),
        *_manifest_mutations(release, 15),
    ]
