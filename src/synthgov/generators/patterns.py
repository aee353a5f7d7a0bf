"""Vectorised random strings from a regular-expression-like pattern (``CUST-[0-9]{8}``, ``[A-Z]{2}\\d{4}``).

Supported: literals and escapes, character classes (ranges, ``\\d``, ``\\w``, ``\\s``, negation over printable
ASCII), ``.``, groups, alternation ``a|b``, and the quantifiers ``?``, ``*``, ``+``, ``{n}``, ``{m,n}`` (open-ended
ones are capped at 8 extra repetitions). A million 12-character strings take well under a second, because whole
columns are drawn as code-point matrices rather than string by string.
"""

from __future__ import annotations

import re
import string
from typing import Any

import numpy as np

from synthgov.errors import InputError

try:  # Python >= 3.11 keeps the parser in re._parser
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

_PRINTABLE = np.array(
    [ord(c) for c in string.ascii_letters + string.digits + string.punctuation + " "], dtype=np.uint32
)
_CATEGORIES = {
    sre_constants.CATEGORY_DIGIT: string.digits,
    sre_constants.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_DIGIT: string.ascii_letters,
    sre_constants.CATEGORY_NOT_WORD: "-.,;:!? ",
    sre_constants.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}
_OPEN_REPEAT_CAP = 8


class Pattern:
    """A compiled pattern; :meth:`sample` draws ``n`` strings with a numpy Generator."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        try:
            self._parsed = sre_parse.parse(pattern)
        except re.error as exc:
            raise InputError(f"invalid pattern {pattern!r}: {exc}") from None
        self._check(self._parsed)
        longest = _max_length(self._parsed)
        if longest > MAX_LENGTH:
            raise InputError(
                f"pattern {pattern!r} makes strings of up to {longest:,} characters; at most {MAX_LENGTH:,} are allowed"
            )

    def _check(self, items: Any) -> None:
        for op, arg in items:
            if op in (
                sre_constants.MAX_REPEAT,
                sre_constants.MIN_REPEAT,
                getattr(sre_constants, "POSSESSIVE_REPEAT", None),
            ):
                self._check(arg[2])
            elif op == sre_constants.SUBPATTERN:
                self._check(arg[-1])
            elif op == sre_constants.BRANCH:
                for branch in arg[1]:
                    self._check(branch)
            elif op not in (sre_constants.LITERAL, sre_constants.IN, sre_constants.ANY, sre_constants.AT):
                raise InputError(f"pattern {self.pattern!r}: '{op}' is not supported in generated strings")

    def space(self) -> float:
        """Number of distinct strings the pattern can produce (an upper bound for alternations)."""
        return float(_space(self._parsed))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        codes = _generate(self._parsed, n, rng)
        if codes.shape[1] == 0:
            return np.full(n, "", dtype="<U1")
        if (codes == 0).any():  # variable length: push the gaps to the end of each row
            order = np.argsort(codes == 0, axis=1, kind="stable")
            codes = np.take_along_axis(codes, order, axis=1)
        return np.ascontiguousarray(codes).view(f"<U{codes.shape[1]}").ravel()

    def sample_unique(self, n: int, rng: np.random.Generator, tries: int = 200) -> np.ndarray:
        """``n`` distinct strings (duplicates are redrawn; near a full space, with enough spare candidates)."""
        import pandas as pd

        space = self.space()
        if n > space:
            raise InputError(f"pattern {self.pattern!r} cannot produce {n} distinct values (it has {space:.0f})")
        out = self.sample(n, rng)
        for _ in range(tries):
            dup = pd.Series(out).duplicated().to_numpy()
            need = int(dup.sum())
            if not need:
                return out
            free = max(space - (n - need), 1.0)
            draws = self.sample(int(min(need * np.ceil(space / free) * 2, 50 * n + 100)), rng)
            taken = set(out[~dup].tolist())
            fresh = np.array([v for v in pd.unique(pd.Series(draws)) if v not in taken][:need], dtype=draws.dtype)
            out = out.astype(f"<U{max(out.dtype.itemsize, fresh.dtype.itemsize, 4) // 4}")
            out[np.flatnonzero(dup)[: fresh.size]] = fresh
        raise InputError(f"pattern {self.pattern!r} cannot produce {n} distinct values (it has about {space:.0f})")


def _chars_of_in(arg: Any) -> np.ndarray:
    chars: set[int] = set()
    negate = False
    for op, val in arg:
        if op == sre_constants.NEGATE:
            negate = True
        elif op == sre_constants.LITERAL:
            chars.add(val)
        elif op == sre_constants.RANGE:
            chars.update(range(val[0], val[1] + 1))
        elif op == sre_constants.CATEGORY:
            chars.update(ord(c) for c in _CATEGORIES.get(val, ""))
    if negate:
        return np.array([c for c in _PRINTABLE if int(c) not in chars], dtype=np.uint32)
    return np.array(sorted(chars), dtype=np.uint32)


MAX_LENGTH = 1_000  # characters of one generated string (an id, a code): bounds memory and time


def _max_length(items: Any) -> int:
    total = 0
    for op, arg in items:
        if op == sre_constants.AT:
            continue
        if op == sre_constants.SUBPATTERN:
            total += _max_length(arg[-1])
        elif op == sre_constants.BRANCH:
            total += max(_max_length(b) for b in arg[1])
        elif op in (sre_constants.LITERAL, sre_constants.IN, sre_constants.ANY):
            total += 1
        else:  # repeat
            total += _repeat_bounds(arg)[1] * _max_length(arg[2])
        if total > MAX_LENGTH:
            return total
    return total


def _repeat_bounds(arg: Any) -> tuple[int, int]:
    low, high = int(arg[0]), arg[1]
    if high == sre_constants.MAXREPEAT:
        high = low + _OPEN_REPEAT_CAP
    return low, int(high)


def _space(items: Any) -> int:
    total = 1
    for op, arg in items:
        if op == sre_constants.LITERAL or op == sre_constants.AT:
            continue
        if op == sre_constants.ANY:
            total *= len(_PRINTABLE)
        elif op == sre_constants.IN:
            total *= max(len(_chars_of_in(arg)), 1)
        elif op == sre_constants.SUBPATTERN:
            total *= _space(arg[-1])
        elif op == sre_constants.BRANCH:
            total *= sum(_space(b) for b in arg[1])
        else:  # repeat
            low, high = _repeat_bounds(arg)
            inner = _space(arg[2])
            total *= sum(inner**k for k in range(low, high + 1))
    return total


def _generate(items: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    parts: list[np.ndarray] = []
    for op, arg in items:
        if op == sre_constants.AT:
            continue
        if op == sre_constants.LITERAL:
            parts.append(np.full((n, 1), arg, dtype=np.uint32))
        elif op == sre_constants.ANY:
            parts.append(rng.choice(_PRINTABLE, size=(n, 1)))
        elif op == sre_constants.IN:
            chars = _chars_of_in(arg)
            parts.append(chars[rng.integers(0, len(chars), size=(n, 1))])
        elif op == sre_constants.SUBPATTERN:
            parts.append(_generate(arg[-1], n, rng))
        elif op == sre_constants.BRANCH:
            options = [_generate(b, n, rng) for b in arg[1]]
            width = max(o.shape[1] for o in options)
            stacked = np.stack([np.pad(o, ((0, 0), (0, width - o.shape[1]))) for o in options])
            pick = rng.integers(0, len(options), size=n)
            parts.append(stacked[pick, np.arange(n)])
        else:  # MAX_REPEAT / MIN_REPEAT
            low, high = _repeat_bounds(arg)
            blocks = [_generate(arg[2], n, rng) for _ in range(high)]
            if high > low:
                count = rng.integers(low, high + 1, size=n)
                for k in range(low, high):
                    blocks[k][count <= k] = 0
            if blocks:
                parts.append(np.concatenate(blocks, axis=1))
    if not parts:
        return np.zeros((n, 0), dtype=np.uint32)
    return np.concatenate(parts, axis=1).astype(np.uint32)
