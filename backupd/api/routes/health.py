"""GET /api/health: 200 when the database answers, 503 when it does not (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from ... import __version__
from ...database import check_database
from ...errors import ConfigError
from ...schemas import HealthResponse
from ..deps import Services, get_services
from ..responses import error_responses

router = APIRouter(prefix="/api", tags=["health"])
CHECK_TIMEOUT_SECONDS = 3


@router.get("/health", response_model=HealthResponse, summary="Service and database health",
            responses=error_responses({503: "Database unavailable: {reason}"}))
def health(services: Services = Depends(get_services)) -> HealthResponse:
    try:
        check_database(services.database_url, CHECK_TIMEOUT_SECONDS)
    except ConfigError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"Database unavailable: {exc}") from None
    return HealthResponse(status="ok", database="ok", version=__version__)
