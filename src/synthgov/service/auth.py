"""Authentication and authorisation: bearer tokens (stored as SHA-256, compared by digest lookup), roles, and a
per-address limit on failed authentications. Tokens never reach a log: only their first characters do."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from synthgov.service import audit_log
from synthgov.service.models import Release, Share, Token, User

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "sg_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class FailedLogins:
    """Failed authentications per client address in a sliding window."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, address: str, at: float) -> deque[float]:
        times = self._seen[address]
        while times and at - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address, time.monotonic())) >= self.limit

    def record(self, address: str) -> None:
        with self._lock:
            at = time.monotonic()
            self._recent(address, at).append(at)


def session(request: Request) -> Iterator[Session]:
    """A session in one transaction for the request: committed when the endpoint returns, else rolled back."""
    factory = request.app.state.sessions
    with factory() as db, db.begin():
        yield db


def current_user(request: Request) -> User:
    """The user of a valid, unrevoked bearer token; 401 otherwise (and 429 after too many failures)."""
    state = request.app.state
    address = request.client.host if request.client else "unknown"
    if state.failed.blocked(address):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed authentications; try again later")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    user = None
    if scheme.lower() == "bearer" and token.startswith(TOKEN_PREFIX):
        with state.sessions() as db:
            row = db.scalars(select(Token).where(Token.digest == token_digest(token.strip()))).first()
            if row is not None and row.revoked_at is None:
                user = db.get(User, row.user_id)
    if user is None:
        state.failed.record(address)
        shown = token[: len(TOKEN_PREFIX) + 4] + "..." if token else "none"
        with state.sessions() as db, db.begin():
            audit_log.append(db, f"@{address}", "failed-login", "", {"token": shown}, **state.chain_options)
        logger.info("failed authentication from %s (token %s)", address, shown)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid API token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


def role(*allowed: str):
    def check(user: User = Depends(current_user)) -> User:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(allowed)}")
        return user

    return check


def can_read(db: Session, user: User, release: Release) -> bool:
    """Auditors read everything, owners their own releases, anyone a release shared with them."""
    if user.role == "auditor" or release.owner_id == user.id:
        return True
    return db.scalars(select(Share).where(Share.release_id == release.id, Share.user_id == user.id)).first() is not None


def readable_release(db: Session, user: User, release_id: str) -> Release:
    release = db.get(Release, release_id)
    if release is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no release {release_id!r}")
    if not can_read(db, user, release):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this release is not shared with you")
    return release
