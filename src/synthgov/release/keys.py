"""The local keystore: an Ed25519 signing key and a watermark secret, each with a key id.

It lives in ``$SYNTHGOV_HOME`` (default ``~/.synthgov``) under ``keys/``, is created on first use, and its
secret files are readable by the owner only (mode 0600). Secrets never leave it: manifests carry key ids and
public keys only.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from synthgov.config import home
from synthgov.errors import InputError

MIN_SECRET_BYTES = 16  # the AES-128 subkeys of the watermark are derived from it


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def signing_key_id(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def watermark_key_id(secret: bytes) -> str:
    return "wm:" + hashlib.sha256(b"synthgov-watermark-key-id" + secret).hexdigest()[:16]


def public_key_from_pem(pem: bytes) -> object:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem)
    except ValueError:
        raise InputError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("the public key is not an Ed25519 key")
    return key


def raw_public(key: object) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[attr-defined]


@dataclass
class Keystore:
    folder: Path

    @classmethod
    def default(cls) -> Keystore:
        return cls(home() / "keys")

    @property
    def index_path(self) -> Path:
        return self.folder / "index.json"

    def exists(self) -> bool:
        return self.index_path.is_file()

    def init(self, *, force: bool = False, watermark_secret: bytes | None = None) -> dict[str, str]:
        """Create a signing key and a watermark secret (refuses to overwrite unless ``force``).

        ``watermark_secret`` restores a known secret (a backup, or a fixed key for reproducible tests) instead of
        drawing a new one; it must hold at least 16 bytes."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
            PublicFormat,
        )

        if self.exists() and not force:
            raise InputError(f"a keystore already exists in {self.folder}; use --force to replace it")
        if watermark_secret is not None and len(watermark_secret) < MIN_SECRET_BYTES:
            raise InputError(f"a watermark secret needs at least {MIN_SECRET_BYTES} bytes")
        private = Ed25519PrivateKey.generate()
        public = private.public_key()
        kid = signing_key_id(raw_public(public))
        secret = secrets.token_bytes(32) if watermark_secret is None else bytes(watermark_secret)
        wid = watermark_key_id(secret)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_secret(
            self.folder / "signing.pem", private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        )
        (self.folder / "signing.pub.pem").write_bytes(
            public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        _write_secret(self.folder / "watermark.key", secret.hex().encode())
        index = {
            "signing_key_id": kid,
            "watermark_key_id": wid,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_secret(self.index_path, json.dumps(index, indent=2).encode())
        return index

    def ensure(self) -> Keystore:
        if not self.exists():
            self.init()
        return self

    def index(self) -> dict[str, str]:
        if not self.exists():
            raise InputError(f"no keystore in {self.folder}; run `synthgov keys init`")
        try:
            return json.loads(self.index_path.read_text())
        except ValueError:
            raise InputError(f"the keystore index {self.index_path} is damaged") from None

    def signing_key(self) -> object:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        self.index()
        return load_pem_private_key((self.folder / "signing.pem").read_bytes(), password=None)

    def public_pem(self) -> bytes:
        self.index()
        return (self.folder / "signing.pub.pem").read_bytes()

    def public_key(self) -> object:
        """The public signing key (what this issuer's signatures verify under)."""
        return public_key_from_pem(self.public_pem())

    def watermark_secret(self) -> bytes:
        self.index()
        return bytes.fromhex((self.folder / "watermark.key").read_text().strip())
