"""Administration on the service's database (the host's command line, no HTTP): users and their tokens. Every
change is an audit entry."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from synthgov.errors import InputError
from synthgov.service import audit_log
from synthgov.service.auth import new_token, token_digest
from synthgov.service.models import ROLES, OwnerKey, Release, Token, User, now
from synthgov.service.store import Store

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
ADMIN = "admin@host"


@dataclass
class Admin:
    sessions: sessionmaker[Session]
    chain_options: dict

    def add_user(self, name: str, role: str, public_key: Path | None = None) -> User:
        if not NAME.match(name):
            raise InputError(f"a user name is 1-64 letters, digits, '.', '_', '@' or '-', got {name!r}")
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        pem = None
        if public_key is not None:
            pem = _public_pem(public_key)
        elif role == "owner":
            raise InputError("an owner needs --public-key: the key their releases are signed with")
        with self.sessions() as db, db.begin():
            if db.scalars(select(User).where(User.name == name)).first() is not None:
                raise InputError(f"user {name!r} already exists")
            user = User(name=name, role=role, public_key=pem)
            db.add(user)
            detail: dict = {"role": role}
            if pem is not None:
                db.flush()
                db.add(OwnerKey(user_id=user.id, key_id=key_id_of(pem), public_key=pem))
                detail["key"] = key_id_of(pem)
            audit_log.append(db, ADMIN, "user-add", name, detail, **self.chain_options)
            return user

    def set_key(self, name: str, public_key: Path) -> tuple[str | None, str]:
        """Give owner ``name`` a new signing key (their next uploads must be signed with it); the old key is kept
        for the releases it signed. The (old, new) key ids."""
        pem = _public_pem(public_key)
        new = key_id_of(pem)
        with self.sessions() as db, db.begin():
            user = self._user(db, name)
            if user.role != "owner":
                raise InputError(f"{name} is a {user.role}: only owners have a signing key")
            old = key_id_of(user.public_key) if user.public_key else None
            if old == new:
                raise InputError(f"{name}'s signing key is already {new}")
            known = db.scalars(select(OwnerKey).where(OwnerKey.user_id == user.id, OwnerKey.key_id == new)).first()
            if known is None:
                db.add(OwnerKey(user_id=user.id, key_id=new, public_key=pem))
            user.public_key = pem
            audit_log.append(db, ADMIN, "key-change", name, {"old": old, "new": new}, **self.chain_options)
        return old, new

    def users(self) -> list[User]:
        with self.sessions() as db:
            return list(db.scalars(select(User).order_by(User.name)))

    def create_token(self, name: str, label: str = "") -> str:
        """A new token for ``name``: returned once, stored as its digest only."""
        token = new_token()
        with self.sessions() as db, db.begin():
            user = self._user(db, name)
            db.add(Token(user_id=user.id, digest=token_digest(token), prefix=token[:8], label=label[:100]))
            audit_log.append(db, ADMIN, "token-create", name, {"prefix": token[:8]}, **self.chain_options)
        return token

    def revoke_tokens(self, name: str, prefix: str | None = None) -> int:
        """Revoke ``name``'s tokens (those starting with ``prefix``, else all); how many."""
        with self.sessions() as db, db.begin():
            user = self._user(db, name)
            rows = db.scalars(select(Token).where(Token.user_id == user.id, Token.revoked_at.is_(None))).all()
            chosen = [t for t in rows if prefix is None or t.prefix.startswith(prefix[:8])]
            for token in chosen:
                token.revoked_at = now()
            detail = {"revoked": len(chosen), "prefix": prefix[:8] if prefix else None}
            audit_log.append(db, ADMIN, "token-revoke", name, detail, **self.chain_options)
            return len(chosen)

    def collect_garbage(self, store: Store, older_than_s: float = 3600.0) -> dict[str, int]:
        """Remove what a crash left: objects no release refers to and upload folders older than
        ``older_than_s`` (younger ones may belong to an upload in progress on another server process)."""
        with self.sessions() as db, db.begin():
            referenced = {d for files in db.scalars(select(Release.files)) for d in json.loads(files).values()}
            cutoff = time.time() - older_than_s
            objects = [p for p in store.unreferenced(referenced) if p.stat().st_mtime < cutoff]
            uploads = [p for p in (store.root / "incoming").iterdir() if p.stat().st_mtime < cutoff]
            for path in objects:
                path.unlink(missing_ok=True)
            for path in uploads:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            detail = {"objects": len(objects), "uploads": len(uploads)}
            audit_log.append(db, ADMIN, "garbage-collect", "", detail, **self.chain_options)
        return detail

    @staticmethod
    def _user(db: Session, name: str) -> User:
        user = db.scalars(select(User).where(User.name == name)).first()
        if user is None:
            raise InputError(f"no user {name!r} (synthgov users add)")
        return user


def _public_pem(path: Path) -> str:
    from synthgov.release.keys import public_key_from_pem

    if not Path(path).is_file():
        raise InputError(f"public key file not found: {path}")
    pem = Path(path).read_bytes()
    public_key_from_pem(pem)  # raises InputError for anything but an Ed25519 public key
    return pem.decode("ascii")


def key_id_of(pem: str) -> str:
    from synthgov.release.keys import public_key_from_pem, raw_public, signing_key_id

    return signing_key_id(raw_public(public_key_from_pem(pem.encode("ascii"))))
