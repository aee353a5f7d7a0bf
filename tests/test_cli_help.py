"""The help matches the behaviour (issue 26, case 14): flags show no value type (`--csv <bool>` suggested that
`--csv true` works; it does not), arguments are named as the first line of help names them, and verify's help
says what it checks, watermark included."""

from __future__ import annotations

import re

import pytest

from synthgov.cli import run

COMMANDS = [
    "generate",
    "fit",
    "sample",
    "schema",
    "evaluate",
    "verify",
    "detect",
    "guard",
    "collapse",
    "demo",
    "audit",
    "budget",
]


def _help(capsys, *command: str) -> str:
    assert run([*command, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_flags_show_no_value_type_and_arguments_are_upper_case(command: str, capsys) -> None:
    text = _help(capsys, command)
    assert "<bool>" not in text and "<list[str]>" not in text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert not re.search(r"[{\[][a-z_]+[}\]]", usage.replace("[OPTIONS]", "")), usage  # no {source}


def test_a_flag_given_a_value_is_a_usage_error(capsys, tmp_path) -> None:
    assert run(["generate", str(tmp_path / "x.csv"), "--csv", "true"]) == 2


def test_verify_help_names_every_check(capsys) -> None:
    text = " ".join(_help(capsys, "verify").split())
    for word in ("signature", "sha256", "row", "public key", "watermark", "too small to test", "not cover"):
        assert word in text, word
