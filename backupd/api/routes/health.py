"""GET /api/health: 200 when the database answers, 503 when it does not (no API key needed)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Depends, HTTPException, status
from psycopg.conninfo import make_conninfo

from ... import __version__
from ..deps import Services, get_services
from ..responses import error_doc
from ...schemas import HealthResponse

router = APIRouter(prefix="/api", tags=["health"])
CHECK_TIMEOUT_SECONDS = 3


@router.get("/health", response_model=HealthResponse, summary="Service and database health",
            responses={503: error_doc("Database unavailable: ...")})
def health(services: Services = Depends(get_services)) -> HealthResponse:
    """A fresh connection each time (not the pool), so the answer reflects the database now."""
    try:
        url = make_conninfo(services.database_url, connect_timeout=CHECK_TIMEOUT_SECONDS)
        with psycopg.connect(url, autocommit=True, application_name="backupd-health") as conn:
            conn.execute(f"SET statement_timeout = '{CHECK_TIMEOUT_SECONDS}s'")
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"Database unavailable: {first}") from None
    return HealthResponse(status="ok", database="ok", version=__version__)
