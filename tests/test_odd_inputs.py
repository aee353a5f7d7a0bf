"""Odd inputs get a clear line, not a silent change or a late crash (issue 26, case 10): repeated and
space-led CSV names, a fractional condition on an integer column, a row count no machine can hold (refused
before fitting), and a quoted `~` in --out (tests/test_release_writes.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from synthgov.cli import run
from synthgov.errors import InputError
from synthgov.table.io import read_table


def test_a_repeated_csv_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,a,b\n1,2,x\n3,4,y\n")
    with pytest.raises(InputError, match="repeats column name"):
        read_table(path)
    path.write_text(" a,a,b\n1,2,x\n3,4,y\n")  # the same once the space is dropped
    with pytest.raises(InputError, match="repeats column name"):
        read_table(path)


def test_a_space_before_a_name_is_reported(tmp_path: Path, caplog) -> None:
    path = tmp_path / "t.csv"
    path.write_text(" a,b\n1,x\n3,y\n")
    with caplog.at_level(logging.WARNING, logger="synthgov.table.io"):
        frame = read_table(path)
    assert list(frame.columns) == ["a", "b"]
    assert "' a'" in caplog.text and "spaces before the name are dropped" in caplog.text


def test_a_fractional_condition_on_an_integer_column_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "t.csv"
    path.write_text("age,g\n" + "".join(f"{20 + i % 40},{'xy'[i % 2]}\n" for i in range(200)))
    code = run(["generate", str(path), "-g", "copula", "-c", "age=30.5", "--out", str(tmp_path / "r")])
    assert code == 2 and "30.5 is not a whole number" in capsys.readouterr().err
    assert run(["generate", str(path), "-g", "copula", "-c", "age=30", "--out", str(tmp_path / "r")]) == 0


def test_impossible_rows_are_refused_before_fitting(tmp_path: Path, capsys, monkeypatch) -> None:
    from synthgov.generators.base import Synthesizer

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("fitted before the row count was checked")

    monkeypatch.setattr(Synthesizer, "fit", never)
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n3,y\n")
    code = run(["generate", str(path), "-g", "copula", "--rows", "1000000000000", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    # a release folder of more than a million rows is written in partitions, one in memory at a time: the disk
    # is what 10^12 rows do not fit (at least half a byte per value); in memory, the machine's memory
    assert code == 2 and "GiB of disk as Parquet partitions" in err and "ask for at most" in err
    assert not (tmp_path / "r").exists()
    from synthgov.errors import InputError
    from synthgov.pipeline import generate

    with pytest.raises(InputError, match=r"GiB of memory to generate; .* ask for at most"):
        generate(path, generator="copula", rows=10**12)


def test_a_network_too_large_for_memory_is_one_clear_line(tmp_path: Path, capsys, monkeypatch) -> None:
    """A 3,000-column table asked torch for 36.9 GB and ended in "internal error"; an allocation failure of the
    network is the table's size, said in one line (exit 2). Another RuntimeError stays an internal error."""
    from synthgov.generators.neural.autoregressive import AutoregressiveSynthesizer

    def too_large(self: object) -> None:
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to "
            "allocate 36864000000 bytes. Error code 12 (Cannot allocate memory)"
        )

    path = tmp_path / "t.csv"
    path.write_text("a,b\n" + "".join(f"{i % 7},{'xy'[i % 2]}\n" for i in range(60)))
    monkeypatch.setattr(AutoregressiveSynthesizer, "_build_network", too_large)
    code = run(["generate", str(path), "-g", "autoregressive", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "does not fit in the memory of cpu" in err and "copula" in err
    monkeypatch.setattr(
        AutoregressiveSynthesizer, "_build_network", lambda self: (_ for _ in ()).throw(RuntimeError("bug"))
    )
    assert run(["generate", str(path), "-g", "autoregressive", "--out", str(tmp_path / "r")]) == 1
    assert "internal error" in capsys.readouterr().err
