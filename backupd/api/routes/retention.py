"""Pinning and pruning saved backups (docs/operations.md): PATCH /api/backup/{job_id}, POST /api/backup/prune."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from ...db.locks import try_operation_lock
from ...errors import BusyError
from ...retention.apply import prune
from ..deps import Services, get_services
from ..jsonbody import json_object, request_body
from ..responses import backup_job_response, error_doc
from ..schemas import BackupJobResponse, PruneKept, PruneResponse
from .backup import BUSY_DETAIL, not_found

router = APIRouter(prefix="/api/backup", tags=["backup"])

PIN_DETAIL = 'Expected {"pinned": true|false}'
PIN_BODY = request_body(
    {
        "type": "object",
        "title": "BackupPinRequest",
        "required": ["pinned"],
        "additionalProperties": False,
        "properties": {"pinned": {"type": "boolean", "description": "True: retention never removes this backup"}},
    },
    {"pinned": True},
)


@router.patch(
    "/{job_id}",
    response_model=BackupJobResponse,
    summary="Pin or unpin a backup",
    openapi_extra=PIN_BODY,
    responses={400: error_doc(PIN_DETAIL), 404: error_doc("Backup job not found: {job_id}")},
)
async def pin_backup(job_id: str, request: Request, services: Services = Depends(get_services)) -> BackupJobResponse:
    """A pinned backup is never removed by retention (`{"pinned": false}` unpins it)."""
    body = await json_object(request)
    if set(body) != {"pinned"} or not isinstance(body["pinned"], bool):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=PIN_DETAIL)
    row = await anyio.to_thread.run_sync(services.jobs.set_pinned, job_id, body["pinned"])
    if row is None:
        raise not_found(job_id)
    return backup_job_response(row)


@router.post(
    "/prune",
    response_model=PruneResponse,
    summary="Apply the retention policy now",
    responses={409: error_doc(BUSY_DETAIL)},
)
def prune_backups(
    dry_run: bool = Query(False, description="Report what would be removed; remove nothing"),
    services: Services = Depends(get_services),
) -> PruneResponse:
    """Keep what the policy (GET /api/schedule) keeps, each with the rules that keep it; remove the
    rest (store object and job row). Never removes the newest, a pinned or an in-use backup."""
    try:
        lock = try_operation_lock(services.database_url)
    except BusyError:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=BUSY_DETAIL) from None
    with lock:
        config = services.schedules.config()
        result = prune(services.pool, services.archives, config.policy, config.timezone, dry_run=dry_run)
    return PruneResponse(kept=[PruneKept(id=k.id, reasons=k.reasons) for k in result.kept], removed=result.removed)
