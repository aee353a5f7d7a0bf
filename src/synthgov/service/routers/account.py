"""``/api/v1/me`` and the service's public key (to verify recipient copies and audit checkpoints)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from synthgov.service.auth import current_user
from synthgov.service.models import User
from synthgov.service.schemas import Me, problems

router = APIRouter(prefix="/api/v1", tags=["account"], responses=problems(401, 429))


@router.get("/me", response_model=Me)
def me(user: User = Depends(current_user)) -> Me:
    return Me(name=user.name, role=user.role)


@router.get("/service/public-key", response_class=PlainTextResponse)
def public_key(request: Request, user: User = Depends(current_user)) -> str:
    return request.app.state.keystore.public_pem().decode("ascii")
