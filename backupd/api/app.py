"""The FastAPI application: lifespan (database, migrations, recovery), routers, UI, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from .. import __version__
from ..config import Settings
from ..db.connection import first_line
from ..db.pool import PoolTimeout
from ..errors import BackupdError, ConfigError, one_line
from ..jobs import JobReaper
from ..services import open_services
from .auditing import AuditMiddleware
from .auth import ApiKeyMiddleware, api_key_scheme
from .keys import keyring_from
from .responses import document_common_errors
from .roles import document_roles, leaf_routes
from .routes import audit, backup, drills, export, health, restore, retention, schedule, status
from .security import HostOriginMiddleware

log = logging.getLogger("backupd.api")
WEB_DIR = Path(__file__).resolve().parent.parent / "web"

DESCRIPTION = """Database-native backup and restore for PostgreSQL.

Start a backup with `POST /api/backup`, poll `GET /api/backup/{job_id}` until `completed`, then
download the archive. Restore by uploading an archive to `POST /api/backup/restore` and polling
`GET /api/backup/restore/{job_id}`. When `BACKUPD_API_KEY` is set, every `/api/*` request except
`/api/health` must send `X-API-Key`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database work happens in the lifespan, when the server starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await anyio.to_thread.run_sync(open_services, settings)
        app.state.services = services
        reaper = JobReaper(services.jobs, services.archives).start()  # jobs of replicas that died
        scheduler = services.scheduler.start()  # automatic backups and drills (docs/operations.md)
        notifier = services.notifier.start()  # notifications, pings, the stale alarm (docs/operations.md)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(scheduler.stop)
            await anyio.to_thread.run_sync(reaper.stop)
            await anyio.to_thread.run_sync(notifier.stop)
            services.pool.close()

    app = FastAPI(
        title="backupd",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "backup", "description": "Backup and restore jobs (docs/rest-api.md)"},
            {"name": "export", "description": "Streamed event export"},
            {"name": "schedule", "description": "Automatic backups and retention (docs/operations.md)"},
            {"name": "drills", "description": "Restore drills into a staging database (docs/operations.md)"},
            {"name": "health", "description": "Liveness and database reachability"},
            {"name": "access", "description": "Who is asking, and the audit trail (docs/rest-api.md)"},
        ],
    )
    # Declared for OpenAPI only when a key is configured; ApiKeyMiddleware does the checking.
    keyring = keyring_from(settings)  # ConfigError (one line) on a malformed BACKUPD_API_KEYS
    app.state.keyring = keyring
    secured = [Depends(api_key_scheme)] if keyring else []
    app.include_router(restore.router, dependencies=secured)  # before backup: /restore is no job id
    app.include_router(backup.router, dependencies=secured)
    app.include_router(retention.router, dependencies=secured)
    app.include_router(schedule.router, dependencies=secured)
    app.include_router(drills.router, dependencies=secured)
    app.include_router(export.router, dependencies=secured)
    app.include_router(audit.router, dependencies=secured)
    app.include_router(status.router, dependencies=secured)  # /metrics, /api/status, /api/notify/test
    app.include_router(health.router)
    if keyring:
        app.add_middleware(ApiKeyMiddleware, keyring=keyring)
    # Added last, so it runs first: foreign Host / Origin get 403 before the key is looked at (§12).
    app.add_middleware(HostOriginMiddleware, allowed_hosts=settings.allowed_hosts, check_host=not keyring)
    _add_error_handlers(app)
    app.add_middleware(AuditMiddleware)  # outermost: refusals of every middleware are recorded too (§17)
    _add_openapi_hook(app, api_key=bool(keyring))
    _mount_web_ui(app, WEB_DIR)
    return app


def _add_openapi_hook(app: FastAPI, *, api_key: bool) -> None:
    """/openapi.json documents the statuses every /api operation can answer (responses.document_common_errors)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_roles(document_common_errors(generate(), api_key=api_key), keyed=api_key)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method of the path (FastAPI makes one route per method, and Starlette's 405 names only
    the first route whose path matched). As in OpenAPI, a concrete path wins over a templated one:
    /api/backup/restore has the methods of that path, not those of /api/backup/{job_id}."""
    by_template: dict[int, set[str]] = {}
    for route in leaf_routes(app.router.routes):
        match, _ = route.matches(scope)
        if match != Match.NONE:
            template = cast(str, getattr(route, "path_format", None) or getattr(route, "path", ""))
            methods = (
                getattr(route, "methods", None)
                or getattr(getattr(route, "starlette_route", None), "methods", None)
                or set()
            )
            by_template.setdefault(template.count("{"), set()).update(methods)
    return sorted(by_template[min(by_template)]) if by_template else []


def _add_error_handlers(app: FastAPI) -> None:
    """Database outages are 503 and engine errors keep their message, both as `{"detail": ...}`."""

    @app.exception_handler(ConfigError)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)  # an OperationalError already; named for the reader (db.pool)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        """No answer from the database: a lost session, no connection, or none free within db.pool's wait."""
        return JSONResponse({"detail": f"Database unavailable: {first_line(exc)}"}, status_code=503)

    @app.exception_handler(BackupdError)
    async def _backupd_error(_: Request, exc: BackupdError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        """405 with an `Allow` that lists every method of the path (RFC 9110 §15.5.6)."""
        headers = dict(getattr(exc, "headers", None) or {})
        methods = allowed_methods(request.app, request.scope)
        if methods:
            headers["Allow"] = ", ".join(methods)
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else "Method Not Allowed"
        return JSONResponse({"detail": detail}, status_code=405, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Anything else (a bug, a full disk): one line for the client; uvicorn logs the traceback."""
        return JSONResponse({"detail": f"Internal error: {one_line(exc)}"}, status_code=500)


def _mount_web_ui(app: FastAPI, web_dir: Path) -> None:
    """Serve the built web UI (index.html + assets/) when present, below every API route."""
    index = web_dir / "index.html"
    if not index.is_file():
        return
    if (web_dir / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=web_dir / "assets"), name="assets")

    @app.get("/", include_in_schema=False)
    def _index() -> FileResponse:
        return FileResponse(index, media_type="text/html")

    @app.get("/{name}", include_in_schema=False)
    def _top_level_file(name: str) -> FileResponse:
        """favicon.ico and similar files next to index.html (never /api or /docs: routed earlier)."""
        path = (web_dir / name).resolve()
        if name == "api" or path.parent != web_dir.resolve() or not path.is_file():
            raise HTTPException(404, detail="Not Found")
        return FileResponse(path)
