"""Detection of personal data (PII candidates) by column name and by value pattern."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# Column-name patterns, checked on the name lower-cased with non-alphanumerics turned into '_'.
_NAME_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"(^|_)(e_?mail|email_?address|mail_?address)($|_)")),
    ("phone", re.compile(r"(^|_)(phone|phone_?number|mobile|cell_?phone|tel|telephone|fax)($|_)")),
    ("first_name", re.compile(r"(^|_)(first_?name|given_?name|forename|fname)($|_)")),
    ("last_name", re.compile(r"(^|_)(last_?name|surname|family_?name|lname)($|_)")),
    ("name", re.compile(r"(^|_)(full_?name|name|customer_?name|patient_?name|person_?name|contact_?name)($|_)")),
    (
        "national_id",
        re.compile(
            r"(^|_)(ssn|social_?security(_?number)?|national_?id|passport(_?number)?|tax_?id|nino|aadhaar|"
            r"driver_?licen[cs]e)($|_)"
        ),
    ),
    ("address", re.compile(r"(^|_)(address|street|street_?address|home_?address|addr)($|_)")),
    ("ip_address", re.compile(r"(^|_)(ip|ip_?address|ipv4|ipv6)($|_)")),
    ("credit_card", re.compile(r"(^|_)(credit_?card(_?number)?|card_?number|ccn)($|_)")),
    ("iban", re.compile(r"(^|_)(iban|bank_?account)($|_)")),
]

# Value patterns (full match), tried on a sample of non-missing values.
_VALUE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")),
    ("url", re.compile(r"https?://\S+")),
    ("ip_address", re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)")),
    ("national_id", re.compile(r"\d{3}-\d{2}-\d{4}")),  # US SSN layout
    ("iban", re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")),
    ("credit_card", re.compile(r"(?:\d[ -]?){12,18}\d")),
    ("phone", re.compile(r"\+?\(?\d{1,4}\)?(?:[ .-]?\(?\d{1,4}\)?){2,5}")),
]

_PERSON_NAME = re.compile(r"[A-Z][a-z'’-]+(?: [A-Z]\.?)?(?: [A-Z][a-z'’-]+){1,2}")
MATCH_SHARE = 0.9


def normalise_name(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def pii_from_name(name: str) -> str | None:
    norm = normalise_name(name)
    for pii_type, pattern in _NAME_PATTERNS:
        if pattern.search(norm):
            return pii_type
    return None


def _luhn_share(values: np.ndarray) -> float:
    ok = 0
    for value in values:
        digits = [int(c) for c in value if c.isdigit()]
        checksum = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
        ok += checksum % 10 == 0
    return ok / max(len(values), 1)


def pii_from_values(sample: pd.Series) -> str | None:
    """The PII type whose pattern at least 90% of ``sample`` (strings, no missing) fully matches."""
    if sample.empty:
        return None
    values = sample.astype(str).str.strip()
    for pii_type, pattern in _VALUE_PATTERNS:
        share = values.str.fullmatch(pattern).mean()
        if share >= MATCH_SHARE:
            if pii_type == "credit_card" and _luhn_share(values.to_numpy()) < MATCH_SHARE:
                continue
            if pii_type == "phone" and values.str.count(r"\d").mean() < 9:
                continue
            return pii_type
    return None


def looks_like_person_names(sample: pd.Series) -> bool:
    values = sample.astype(str).str.strip()
    return bool(len(values)) and values.str.fullmatch(_PERSON_NAME).mean() >= MATCH_SHARE
