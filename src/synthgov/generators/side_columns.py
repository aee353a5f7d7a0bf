"""Columns that are generated, never modelled: identifiers, personal data and free text.

* identifiers are fresh: integer and counter-style ids continue after the largest real id, UUIDs are random,
  other ids follow the real ids' character pattern (widened when the pattern is too small to avoid collisions);
* PII columns (emails, phones, names, national ids, ...) are replaced by fake values from Faker pools and
  vectorised patterns, so no real value is ever copied;
* free text is drawn from a word model (length distribution + frequencies of words that occur in at least
  ``min_rows`` rows), so a string seen once (a name inside a note) cannot be reproduced.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgov.generators.patterns import Pattern
from synthgov.table.schema import ColumnSchema

POOL_SIZE = 2_000
MIN_SPACE_FACTOR = 1e9  # pattern ids: space >= this x expected ids, else the last run is widened


def _with_missing(values: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    if rate <= 0:
        return values
    out = values.astype(object)
    out[rng.random(len(out)) < rate] = None
    return out


@dataclass
class IdColumn:
    column: ColumnSchema

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        fmt = self.column.id_format or "[0-9a-f]{16}"
        if fmt == "int":
            start = int(self.column.max or 0) + 1
            return np.arange(start, start + n, dtype=np.int64)
        if fmt == "uuid":
            raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
            return np.array([str(uuid.UUID(bytes=bytes(r), version=4)) for r in raw], dtype=object)
        if fmt.startswith("counter:"):
            prefix, pad, suffix, top = fmt[len("counter:") :].split("|")
            numbers = np.arange(int(top) + 1, int(top) + 1 + n).astype(str)
            numbers = np.char.zfill(numbers, int(pad)) if int(pad) else numbers
            return np.char.add(np.char.add(prefix, numbers), suffix).astype(object)
        pattern = Pattern(widen_pattern(fmt, expected=max(n, 1) * 10))
        return pattern.sample_unique(n, rng).astype(object)


def widen_pattern(fmt: str, expected: int) -> str:
    """Lengthen the pattern's last character class until its space dwarfs the number of ids drawn, so that a
    fresh id colliding with a real one is practically impossible (expected collisions < 1e-9)."""
    import re

    space = Pattern(fmt).space()
    target = expected * MIN_SPACE_FACTOR
    if space >= target:
        return fmt
    runs = list(re.finditer(r"(\[[^\]]+\]|\\d|\\w)(?:\{(\d+)\})?", fmt))
    if not runs:
        return fmt + "-[0-9a-f]{12}"
    last = runs[-1]
    cls, count = last.group(1), int(last.group(2) or 1)
    size = max(Pattern(cls).space(), 2.0)
    rest = space / size**count
    need = math.ceil(math.log(target / rest) / math.log(size))
    return fmt[: last.start()] + f"{cls}{{{max(need, count)}}}" + fmt[last.end() :]


@dataclass
class PiiColumn:
    column: ColumnSchema
    locale: str = "en_US"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        kind = self.column.pii_type or "name"
        values = _fake(kind, n, rng, self.locale)
        return _with_missing(values, self.column.missing_rate, rng)


def _faker_pool(method: str, rng: np.random.Generator, locale: str, size: int = POOL_SIZE) -> np.ndarray:
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(int(rng.integers(0, 2**31)))
    make = getattr(fake, method)
    return np.array(sorted({make() for _ in range(size)}), dtype=object)


def _pick(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return pool[rng.integers(0, len(pool), size=n)]


def _luhn_numbers(n: int, rng: np.random.Generator, length: int = 16) -> np.ndarray:
    digits = rng.integers(0, 10, size=(n, length - 1))
    digits[:, 0] = 4  # a card-like leading digit
    rev = digits[:, ::-1].copy()
    doubled = rev[:, 0::2] * 2
    rev[:, 0::2] = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - rev.sum(axis=1) % 10) % 10
    full = np.concatenate([digits, check[:, None]], axis=1) + ord("0")
    return full.astype(np.uint32).view(f"<U{length}").ravel().astype(object)


def _fake(kind: str, n: int, rng: np.random.Generator, locale: str) -> np.ndarray:
    if kind in ("name", "first_name", "last_name", "email"):
        first = _faker_pool("first_name", rng, locale)
        last = _faker_pool("last_name", rng, locale)
        if kind == "first_name":
            return _pick(first, n, rng)
        if kind == "last_name":
            return _pick(last, n, rng)
        f, s = _pick(first, n, rng).astype(str), _pick(last, n, rng).astype(str)
        if kind == "name":
            return np.char.add(np.char.add(f, " "), s).astype(object)
        domains = np.array(["example.com", "example.org", "example.net", "mail.example"], dtype=object)
        local = np.char.add(np.char.add(np.char.lower(f), "."), np.char.lower(s))
        local = np.char.add(local, rng.integers(1, 1000, size=n).astype(str))
        return np.char.add(np.char.add(local, "@"), _pick(domains, n, rng).astype(str)).astype(object)
    if kind == "phone":
        return Pattern(r"\+1-[2-9][0-9]{2}-555-[0-9]{4}").sample(n, rng).astype(object)
    if kind == "national_id":
        return Pattern(r"9[0-9]{2}-[0-9]{2}-[0-9]{4}").sample(n, rng).astype(object)  # 9xx: never issued as SSN
    if kind == "ip_address":
        octets = rng.integers(0, 256, size=(n, 3)).astype(str)
        dotted = np.char.add(np.char.add(np.char.add(octets[:, 0], "."), np.char.add(octets[:, 1], ".")), octets[:, 2])
        return np.char.add("10.", dotted).astype(object)  # private range: never a real person's address
    if kind == "credit_card":
        return _luhn_numbers(n, rng)
    if kind == "iban":
        return _pick(_faker_pool("iban", rng, locale), n, rng)
    if kind == "address":
        pool = np.array([a.replace("\n", ", ") for a in _faker_pool("address", rng, locale)], dtype=object)
        return _pick(pool, n, rng)
    if kind == "url":
        return np.char.add("https://www.example.com/", Pattern("[a-z]{8}").sample(n, rng)).astype(object)
    raise ValueError(f"unknown pii_type {kind}")


@dataclass
class TextColumn:
    """A bag-of-words model of free text: number of words per row and word frequencies."""

    column: ColumnSchema
    words: list[str] = field(default_factory=list)
    word_probs: np.ndarray | None = None
    lengths: np.ndarray | None = None
    length_probs: np.ndarray | None = None
    p_missing: float = 0.0
    min_rows: int = 2
    vocabulary: int = 5_000

    def fit(self, series: pd.Series) -> TextColumn:
        present = series.dropna().astype(str)
        self.p_missing = float(series.isna().mean())
        tokens = present.str.split()
        counts = tokens.str.len().clip(upper=200)
        lengths = counts.value_counts()
        self.lengths = lengths.index.to_numpy(dtype=np.int64)
        self.length_probs = (lengths / lengths.sum()).to_numpy()
        # Words in at least `min_rows` distinct rows.
        per_row = tokens.map(set).explode()
        rows_with = per_row.value_counts()
        keep = rows_with[rows_with >= self.min_rows].head(self.vocabulary)
        if keep.empty:
            keep = pd.Series({"lorem": 1, "ipsum": 1})
        self.words = [str(w) for w in keep.index]
        self.word_probs = (keep / keep.sum()).to_numpy(dtype=np.float64)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lengths = self.lengths[rng.choice(len(self.lengths), size=n, p=self.length_probs)]
        lengths = np.maximum(lengths, 1)
        words = np.array(self.words, dtype=object)[
            rng.choice(len(self.words), size=int(lengths.sum()), p=self.word_probs)
        ]
        bounds = np.cumsum(lengths)[:-1]
        out = np.array([" ".join(chunk) for chunk in np.split(words, bounds)], dtype=object)
        return _with_missing(out, self.p_missing, rng)

    def to_state(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "column"}
