"""The safe expression language and the vectorised pattern generator."""

from __future__ import annotations

import re

import numpy as np
import pytest

from synthgov.constraints import Expression
from synthgov.errors import InputError
from synthgov.generators.patterns import Pattern
from synthgov.generators.side_columns import widen_pattern

ENV = {
    "a": np.array([1, 5, 10]),
    "s": np.array(["x", "y", None], dtype=object),
    "d": np.array(["2020-01-01", "2021-06-01", "2019-01-01"], dtype="datetime64[us]"),
    "capital-gain": np.array([0.0, 1.0, np.nan]),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a > 2 and s in ['y', 'z']", [False, True, False]),
        ("a * 2 + 1 == 11", [False, True, False]),
        ("d >= '2020-01-01'", [True, True, False]),
        ("d + days(30) > date('2020-01-15')", [True, True, False]),
        ("`capital-gain` > 0 or isnull(`capital-gain`)", [False, True, True]),
        ("(10 if a > 3 else 0) == 10", [False, True, True]),
        ("not (a == 5)", [True, False, True]),
        ("1 < a <= 5", [False, True, False]),
    ],
)
def test_expressions_evaluate_like_python(text: str, expected: list[bool]) -> None:
    assert Expression(text).evaluate(ENV, 3).tolist() == expected


@pytest.mark.parametrize(
    "text", ["__import__('os')", "a.__class__", "open('x')", "a[0]", "(lambda: 1)()", "[x for x in a]", "f'{a}'"]
)
def test_expressions_refuse_code(text: str) -> None:
    with pytest.raises(InputError):
        Expression(text)


def test_expression_names_and_unknown_columns() -> None:
    assert Expression("`capital-gain` + a > s").columns == ["a", "capital-gain", "s"]
    with pytest.raises(InputError, match="unknown column"):
        Expression("zz > 1").evaluate(ENV, 3)


@pytest.mark.parametrize("pattern", [r"CUST-[0-9]{8}", r"[A-Z]{2}\d{4}", r"(ab|cde)x?[a-z]{1,3}", r"\w+@example\.com"])
def test_patterns_match_their_regex(pattern: str) -> None:
    values = Pattern(pattern).sample(2000, np.random.default_rng(0))
    assert all(re.fullmatch(pattern, v) for v in values)
    assert len(set(values)) > 100


def test_pattern_space_uniqueness_and_widening() -> None:
    assert Pattern("[A-C][0-9]{2}").space() == 300
    values = Pattern("[A-C][0-9]{2}").sample_unique(300, np.random.default_rng(1))
    assert len(set(values)) == 300
    with pytest.raises(InputError, match="distinct values"):
        Pattern("[A-C][0-9]{2}").sample_unique(301, np.random.default_rng(1))
    wide = widen_pattern("[A-Z]{2}-[0-9]{6}", expected=320_000)
    assert wide.startswith("[A-Z]{2}-[0-9]{") and Pattern(wide).space() >= 320_000 * 1e9
