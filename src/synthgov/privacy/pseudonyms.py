"""Keyed pseudonyms for direct identifiers (names, emails, phones, ids) in partially synthetic releases.

A pseudonym is HMAC-SHA256 of the value under a key derived from the issuer's secret and the release id, written
in the identifier's shape: the same real value maps to the same pseudonym everywhere in one release (in any
column, so joins still work), to another one in another release or under another key, and nothing can be
reversed without the key. Emails end in ``@pseudonym.invalid`` and phones start with ``+1-555-01`` (ranges that
reach no one); integer ids stay integers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

import numpy as np
import pandas as pd

from synthgov.table.schema import ColumnSchema

logger = logging.getLogger(__name__)


def release_key(secret: bytes, release_id: str) -> bytes:
    return hmac.new(secret, b"synthgov pseudonyms|" + release_id.encode(), hashlib.sha256).digest()


def _digest(key: bytes, value: object) -> bytes:
    return hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).digest()


def pseudonym(key: bytes, value: object, col: ColumnSchema) -> object:
    """The pseudonym of one present value, shaped like the column's identifiers."""
    digest = _digest(key, value)
    token = base64.b32encode(digest[:10]).decode("ascii").lower()
    kind = col.pii_type if col.kind == "pii" else "id"
    if kind == "email":
        return f"{token}@pseudonym.invalid"
    if kind == "phone":
        number = int.from_bytes(digest[:4], "big") % 100
        return f"+1-555-01{number:02d}-{token[:6]}"
    if kind == "id" and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int.from_bytes(digest[:6], "big")  # 48 bits: collisions practically impossible below millions
    prefix = {"name": "Name", "first_name": "Name", "last_name": "Name", "id": "ID"}.get(str(kind), str(kind).upper())
    return f"{prefix}-{token}"


def pseudonymise(series: pd.Series, col: ColumnSchema, key: bytes) -> pd.Series:
    """Every present value replaced by its pseudonym (missing values stay missing)."""
    present = series.notna()
    values = series[present].tolist()
    mapped = {value: pseudonym(key, value, col) for value in dict.fromkeys(values)}
    out = pd.Series([None] * len(series), index=series.index, dtype=object)
    out[present] = [mapped[v] for v in values]
    if all(isinstance(v, int) for v in mapped.values()) and mapped and not (~present).any():
        return out.astype("int64")
    return out
