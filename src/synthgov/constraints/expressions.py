"""A small, safe expression language evaluated on whole columns at once.

``Expression("income > 2 * age and segment in ['a', 'b']")`` parses with Python's ``ast`` and accepts only
arithmetic, comparisons, ``and``/``or``/``not``, ``x if c else y``, literals and a few functions; attribute
access, subscripts, lambdas and arbitrary calls are refused, so a spec from elsewhere cannot run code. Column
names that are not identifiers go in backticks: ``\\`capital-gain\\` > 0``. Datetime columns compare with
date strings (``signup >= '2020-01-01'``) and add ``days(n)``/``hours(n)``/``seconds(n)``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from synthgov.errors import InputError

_FUNCTIONS: dict[str, Any] = {
    "abs": np.abs,
    "sqrt": np.sqrt,
    "log": np.log,
    "exp": np.exp,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,
    "minimum": np.minimum,
    "maximum": np.maximum,
    "isnull": lambda x: _isnull(np.asarray(x)),
    "notnull": lambda x: ~_isnull(np.asarray(x)),
    "days": lambda x: (np.asarray(x) * 86_400_000_000).astype("timedelta64[us]"),
    "hours": lambda x: (np.asarray(x) * 3_600_000_000).astype("timedelta64[us]"),
    "seconds": lambda x: (np.asarray(x) * 1_000_000).astype("timedelta64[us]"),
    "date": lambda x: np.datetime64(x, "us"),
    "year": lambda x: np.asarray(x).astype("datetime64[Y]").astype(np.int64) + 1970,
}
_CONSTANTS = {"True": True, "False": False, "None": None, "nan": np.nan}
_BIN = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
    ast.BitAnd: np.logical_and,
    ast.BitOr: np.logical_or,
}
_CMP = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}
_BACKTICK = re.compile(r"`([^`]+)`")


def _isnull(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return np.isnan(x)
    if x.dtype.kind in "mM":
        return np.isnat(x)
    if x.dtype == object:
        return np.array([v is None or (isinstance(v, float) and v != v) for v in x.ravel()]).reshape(x.shape)
    return np.zeros(x.shape, dtype=bool)


class Expression:
    """A parsed expression; :meth:`evaluate` runs it on a mapping of column name -> numpy array."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"an expression must be a non-empty string, got {text!r}")
        self.text = text
        self._aliases: dict[str, str] = {}

        def alias(match: re.Match[str]) -> str:
            key = f"__col{len(self._aliases)}"
            self._aliases[key] = match.group(1)
            return key

        try:
            self._tree = ast.parse(_BACKTICK.sub(alias, text).strip(), mode="eval")
        except SyntaxError as exc:
            raise InputError(f"invalid expression {text!r}: {exc.msg}") from None
        self.columns = sorted(self._names(self._tree))

    def _names(self, tree: ast.AST) -> set[str]:
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS) or node.keywords:
                    raise InputError(
                        f"expression {self.text!r}: only the functions {', '.join(_FUNCTIONS)} may be called"
                    )
            elif isinstance(node, ast.Name):
                if node.id not in _FUNCTIONS and node.id not in _CONSTANTS:
                    names.add(self._aliases.get(node.id, node.id))
            elif not isinstance(node, _ALLOWED):
                raise InputError(f"expression {self.text!r}: '{type(node).__name__}' is not allowed")
        return names

    def evaluate(self, columns: Mapping[str, Any], n: int | None = None) -> np.ndarray:
        missing = [c for c in self.columns if c not in columns]
        if missing:
            raise InputError(f"expression {self.text!r} uses unknown column(s): {', '.join(missing)}")
        try:
            with np.errstate(all="ignore"):
                value = self._eval(self._tree.body, columns)
        except InputError:
            raise
        except (TypeError, ValueError) as exc:
            raise InputError(f"cannot evaluate {self.text!r}: {exc}") from None
        value = np.asarray(value)
        if n is not None and value.ndim == 0:
            value = np.full(n, value.item() if value.dtype != object else value[()])
        return value

    def _eval(self, node: ast.AST, env: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            return np.asarray(env[self._aliases.get(node.id, node.id)])
        if isinstance(node, ast.BoolOp):
            values = [np.asarray(self._eval(v, env), dtype=bool) for v in node.values]
            op = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = values[0]
            for v in values[1:]:
                out = op(out, v)
            return out
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, env)
            if isinstance(node.op, ast.Not):
                return np.logical_not(operand)
            return -np.asarray(operand) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return _BIN[type(node.op)](*_align(self._eval(node.left, env), self._eval(node.right, env)))
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            result: Any = True
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comparator, env)
                if isinstance(op, (ast.In, ast.NotIn)):
                    options = right if isinstance(right, (list, tuple)) else [right]
                    step = np.isin(np.asarray(left, dtype=object), np.asarray(options, dtype=object))
                    step = ~step if isinstance(op, ast.NotIn) else step
                else:
                    step = _CMP[type(op)](*_align(left, right))
                result = np.logical_and(result, step)
                left = right
            return result
        if isinstance(node, ast.IfExp):
            return np.where(
                self._eval(node.test, env), *_align(self._eval(node.body, env), self._eval(node.orelse, env))
            )
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._eval(e, env) for e in node.elts]
        if isinstance(node, ast.Call):
            return _FUNCTIONS[node.func.id](*[self._eval(a, env) for a in node.args])  # type: ignore[union-attr]
        raise InputError(f"expression {self.text!r}: unsupported element {type(node).__name__}")


def _align(left: Any, right: Any) -> tuple[Any, Any]:
    """Let datetime columns meet date strings, and object (string) columns meet strings."""
    la, ra = np.asarray(left), np.asarray(right)
    if la.dtype.kind == "M" and isinstance(right, str):
        return la, np.datetime64(right, "us")
    if ra.dtype.kind == "M" and isinstance(left, str):
        return np.datetime64(left, "us"), ra
    if la.dtype == object or ra.dtype == object:
        return la.astype(object), ra.astype(object)
    return left, right


_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.List,
    ast.Tuple,
    ast.Call,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.BitAnd,
    ast.BitOr,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
)
