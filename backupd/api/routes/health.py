"""GET /api/health: 200 when the database answers, 503 when it does not (no API key needed)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Depends, HTTPException, status
from psycopg.conninfo import make_conninfo

from ... import __version__
from ...db.connection import first_line, one_row
from ...errors import ConfigError
from ..deps import Services, get_services
from ..responses import error_responses
from ..schemas import HealthResponse

router = APIRouter(prefix="/api", tags=["health"])
CHECK_TIMEOUT_SECONDS = 3


def database_version(url: str, timeout_seconds: int = CHECK_TIMEOUT_SECONDS) -> str:
    """The server's `server_version` within `timeout_seconds`, else ConfigError: one fresh
    connection both proves the database answers right now and tells which PostgreSQL it is."""
    try:
        conninfo = make_conninfo(url, connect_timeout=timeout_seconds)
        with psycopg.connect(conninfo, autocommit=True, application_name="backupd-health") as conn:
            conn.execute(f"SET statement_timeout = '{int(timeout_seconds)}s'")
            version: str = one_row(conn.execute("SHOW server_version"))[0]
            return version
    except psycopg.Error as exc:
        raise ConfigError(first_line(exc)) from exc


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Service and database health",
    responses=error_responses({503: "Database unavailable: {reason}"}),
)
def health(services: Services = Depends(get_services)) -> HealthResponse:
    try:
        version = database_version(services.database_url)
    except ConfigError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"Database unavailable: {exc}") from None
    return HealthResponse(status="ok", database="ok", version=__version__, database_version=version)
