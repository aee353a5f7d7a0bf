"""Canonical JSON (RFC 8785) and in-toto Statements signed with Ed25519 in DSSE form.

The signature covers DSSE's pre-authentication encoding of the payload type and the JCS-canonical bytes of the
Statement, so a manifest re-indented or re-ordered by a tool still verifies, while any change of a value does
not.
"""

from __future__ import annotations

import base64
from typing import Any

import rfc8785

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://synthgov.dev/manifest/v1"


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign(statement: dict[str, Any], private_key: Any, key_id: str) -> dict[str, Any]:
    payload = canonical(statement)
    signature = private_key.sign(pae(PAYLOAD_TYPE, payload))
    return {"keyid": key_id, "sig": base64.b64encode(signature).decode("ascii")}


def verify_signature(statement: dict[str, Any], signature: dict[str, Any], public_key: Any) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        raw = base64.b64decode(signature["sig"], validate=True)
        public_key.verify(raw, pae(PAYLOAD_TYPE, canonical(statement)))
        return True
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False


def envelope(statement: dict[str, Any], signatures: list[dict[str, Any]]) -> dict[str, Any]:
    """The standard DSSE envelope (base64 payload), for tools that consume DSSE directly."""
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(canonical(statement)).decode("ascii"),
        "signatures": signatures,
    }
