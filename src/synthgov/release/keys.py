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
import sys
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from synthgov.config import PASSPHRASE_VARIABLE, check_private, home, private_folder, write_private
from synthgov.errors import InputError

MIN_SECRET_BYTES = 16  # the AES-128 subkeys of the watermark are derived from it


def _passphrase(prompt: bool) -> bytes:
    """The signing key's passphrase: ``$SYNTHGOV_KEY_PASSPHRASE``, else asked on the terminal."""
    value = os.environ.get(PASSPHRASE_VARIABLE)
    if value:
        return value.encode("utf-8")
    if prompt and sys.stdin.isatty():
        import getpass

        return getpass.getpass("passphrase of the synthgov signing key: ").encode("utf-8")
    raise InputError(f"the signing key is encrypted: set {PASSPHRASE_VARIABLE} (or run from a terminal to be asked)")


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

    def init(
        self, *, force: bool = False, watermark_secret: bytes | None = None, encrypt: bool = False
    ) -> dict[str, str]:
        """Create a signing key and a watermark secret (refuses to overwrite unless ``force``).

        ``watermark_secret`` restores a known secret (a backup, or a fixed key for reproducible tests) instead of
        drawing a new one; it must hold at least 16 bytes. ``encrypt`` stores the signing key encrypted under a
        passphrase (``$SYNTHGOV_KEY_PASSPHRASE``, or asked on the terminal), needed again at every signing."""
        with self._lock():
            return self._init(force=force, watermark_secret=watermark_secret, encrypt=encrypt)

    def _init(self, *, force: bool, watermark_secret: bytes | None, encrypt: bool) -> dict[str, str]:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import (
            BestAvailableEncryption,
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
        protection = BestAvailableEncryption(_passphrase(prompt=True)) if encrypt else NoEncryption()
        private_folder(self.folder)
        write_private(self.folder / "signing.pem", private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, protection))
        (self.folder / "signing.pub.pem").write_bytes(
            public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        write_private(self.folder / "watermark.key", secret.hex().encode())
        index = {
            "signing_key_id": kid,
            "watermark_key_id": wid,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "signing_key_encrypted": encrypt,
        }
        write_private(self.index_path, json.dumps(index, indent=2).encode())
        return index

    def ensure(self) -> Keystore:
        """The keystore, made first if there is none (runs starting together make it once: the others wait)."""
        if not self.exists():
            with self._lock():
                if not self.exists():
                    self._init(force=False, watermark_secret=None, encrypt=False)
        return self

    def _lock(self) -> AbstractContextManager[None]:
        from synthgov.locks import exclusive

        try:
            private_folder(self.folder.parent)
        except OSError as exc:
            raise InputError(f"cannot create the synthgov home {self.folder.parent}: {exc.strerror or exc}") from None
        return exclusive(self.folder.parent / ".keys.lock", f"the keystore {self.folder}", wait_seconds=30.0)

    def index(self) -> dict[str, str]:
        if not self.exists():
            raise InputError(f"no keystore in {self.folder}; run `synthgov keys init`")
        try:
            index = json.loads(_read(self.index_path))
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"the keystore index {self.index_path} is damaged") from None
        if not isinstance(index, dict):
            raise InputError(f"the keystore index {self.index_path} is damaged")
        return index

    def signing_key(self) -> object:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        self.index()
        path = self.folder / "signing.pem"
        check_private(path)
        pem = _read(path)
        password = _passphrase(prompt=True) if b"ENCRYPTED" in pem.split(b"\n", 1)[0] else None
        try:
            return load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as exc:
            if password is not None:
                raise InputError(f"cannot unlock {path}: wrong passphrase ({PASSPHRASE_VARIABLE})") from None
            raise InputError(f"the signing key {path} is damaged ({str(exc).splitlines()[0]})") from None

    def public_pem(self) -> bytes:
        self.index()
        return _read(self.folder / "signing.pub.pem")

    def public_key(self) -> object:
        """The public signing key (what this issuer's signatures verify under)."""
        return public_key_from_pem(self.public_pem())

    def watermark_secret(self) -> bytes:
        self.index()
        path = self.folder / "watermark.key"
        check_private(path)
        try:
            secret = bytes.fromhex(_read(path).decode("ascii").strip())
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"the watermark secret {path} is damaged (not hex text)") from None
        if len(secret) < MIN_SECRET_BYTES:
            raise InputError(f"the watermark secret {path} is damaged (under {MIN_SECRET_BYTES} bytes)")
        return secret


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the keystore file {path}: {exc.strerror or exc}") from None
