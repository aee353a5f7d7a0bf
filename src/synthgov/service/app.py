"""The FastAPI application: state (settings, database, store, keys, failed-login limits), the routers, security
headers on every response, and the OpenAPI schema behind authentication like every other endpoint."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from synthgov import __version__
from synthgov.service.auth import FailedLogins, current_user
from synthgov.service.database import make_engine, migrate, sessions
from synthgov.service.executors import executor_for
from synthgov.service.jobs import Executor, reap
from synthgov.service.lineage import Lineage
from synthgov.service.models import User
from synthgov.service.routers import account, audit, dashboard, jobs, releases
from synthgov.service.settings import Settings
from synthgov.service.store import Store

logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def create_app(settings: Settings | None = None, executor: Executor | None = None) -> FastAPI:
    """The app; ``executor`` runs jobs (default: as ``settings.executor`` says, a worker process per job unless
    it names a Dask cluster); it is closed when the app shuts down."""
    from synthgov.release.keys import Keystore

    settings = settings or Settings.default()
    if settings.upload_policy is not None:
        from synthgov.governance.audit import AuditPolicy

        AuditPolicy.load(settings.upload_policy)  # a bad policy stops the start, not every upload
    engine = make_engine(settings.database)
    migrate(engine)
    keystore = Keystore(settings.home / "keys").ensure()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        yield
        app.state.executor.close()

    app = FastAPI(
        lifespan=lifespan,
        title="synthgov registry",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind authentication
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions(engine)
    app.state.store = Store(settings.store)
    app.state.keystore = keystore
    app.state.failed = FailedLogins(settings.failed_logins, settings.failed_window_s)
    app.state.lineage = Lineage(settings.lineage)
    app.state.executor = executor or executor_for(settings.executor)
    app.state.chain_options = {"keystore": keystore, "checkpoint_every": settings.checkpoint_every}
    # jobs whose worker died with an earlier server
    stopped = reap(app.state.sessions, app.state.chain_options, app.state.executor)
    if stopped:
        logger.warning("%d job(s) marked failed: their worker stopped", stopped)
    routers = (account.router, releases.router, releases.detect_router, jobs.router, audit.router, dashboard.router)
    for router in routers:
        app.include_router(router)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(user: User = Depends(current_user)) -> dict[str, Any]:
        return app.openapi()

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> JSONResponse:
        # a value the database cannot hold (a NUL character for PostgreSQL, an integer beyond its column): the
        # request's fault, not the server's
        logger.info("refused a value the database cannot store on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "the request holds a value that cannot be stored (e.g. a NUL character)"}, 422)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        try:
            response = await call_next(request)
        except Exception:  # an unexpected error: logged with its traceback, answered without it
            logger.exception("unexpected error on %s %s", request.method, request.url.path)
            response = JSONResponse({"detail": "internal error (logged on the server)"}, status_code=500)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
