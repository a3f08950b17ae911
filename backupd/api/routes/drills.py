"""Restore drills as a service: start one for a saved backup, read the history (docs/operations.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, status

from ...drill.service import DRILL_BUSY, DrillRefused
from ...errors import BusyError
from ..deps import Services, get_services
from ..responses import drill_result, error_doc
from ..schemas import DrillListResponse, DrillResult, DrillStartResponse, DrillStatus
from .backup import not_found

router = APIRouter(tags=["drills"])


@router.post(
    "/api/backup/{job_id}/drill",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DrillStartResponse,
    summary="Start a restore drill of a saved backup",
    responses={
        202: {
            "links": {
                "GetDrill": {
                    "operationRef": "#/paths/~1api~1drills~1{drill_id}/get",
                    "parameters": {"drill_id": "$response.body#/drill_id"},
                    "description": "Poll the drill",
                }
            }
        },
        400: error_doc(
            "Backup job is not complete (status: {status}) / No drill database configured: … /"
            " Refusing to drill into the application database: …"
        ),
        404: error_doc("Backup job not found: {job_id}"),
        409: error_doc(DRILL_BUSY),
    },
)
def start_drill(job_id: str, services: Services = Depends(get_services)) -> DrillStartResponse:
    """Restore the backup into BACKUPD_DRILL_DATABASE_URL and compare; poll GET /api/drills/{drill_id}."""
    row = services.jobs.get("backup", job_id)
    if row is None:
        raise not_found(job_id)
    try:
        drill = services.drills.start(row)
    except DrillRefused as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    except BusyError:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=DRILL_BUSY) from None
    return DrillStartResponse(drill_id=str(drill["id"]), status=DrillStatus.PENDING)


@router.get("/api/drills", response_model=DrillListResponse, summary="The drill history, newest first")
def list_drills(
    limit: int = Query(100, ge=1, le=1000, description="At most this many drills"),
    services: Services = Depends(get_services),
) -> DrillListResponse:
    rows, total = services.drills.store.list(limit)
    return DrillListResponse(drills=[drill_result(r) for r in rows], total=total)


@router.get(
    "/api/drills/{drill_id}",
    response_model=DrillResult,
    summary="One drill's status and result",
    responses={404: error_doc("Drill not found: {drill_id}")},
)
def get_drill(drill_id: str, services: Services = Depends(get_services)) -> DrillResult:
    row = services.drills.store.get(drill_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Drill not found: {drill_id}")
    return drill_result(row)
