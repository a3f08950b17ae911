"""GET /metrics, GET /api/status, POST /api/notify/test (docs/operations.md, docs/rest-api.md).

The values come from the database and the store at request time (backupd.metrics), so any replica
answers the same; targets are named as `#1 json://host…`, never by their URLs.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import Response

from ...metrics import CONTENT_TYPE, BackupSummary, read_snapshot, render, with_store
from ...notify import NotConfigured
from ..deps import Services, get_services
from ..responses import error_doc
from ..schemas import NotifyStatus, NotifyTestResponse, StatusBackup, StatusDrill, StatusResponse

router = APIRouter(tags=["health"])


def _backup(row: BackupSummary, now: datetime) -> StatusBackup:
    return StatusBackup(
        id=row.id,
        status=row.status,  # type: ignore[arg-type]  # the enum's values are the column's
        trigger=row.trigger,  # type: ignore[arg-type]
        created_at=row.created_at,
        completed_at=row.completed_at,
        age_seconds=(now - row.completed_at).total_seconds() if row.completed_at else None,
        duration_seconds=row.duration_seconds,
        size_bytes=row.size_bytes,
        rows_reused=row.rows_reused,
        rows_read=row.rows_read,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}},
)
def metrics(services: Services = Depends(get_services)) -> Response:
    """The Prometheus text exposition format; the metrics and their meaning: docs/operations.md."""
    snapshot = with_store(read_snapshot(services.pool), services.archives)
    next_backup, _ = services.scheduler.next_runs()
    body = render(
        snapshot,
        next_backup=next_backup,
        stale_after=services.notifier.stale_after,
        notify_undelivered=services.notifier.outbox.undelivered(),
    )
    return Response(body, media_type=CONTENT_TYPE)


@router.get("/api/status", response_model=StatusResponse, summary="Backups, drills, staleness and notifications")
def get_status(services: Services = Depends(get_services)) -> StatusResponse:
    snap = read_snapshot(services.pool)
    notifier = services.notifier
    config = services.schedules.config()
    next_backup, _ = services.scheduler.next_runs(config)
    drill = snap.last_drill
    return StatusResponse(
        last_backup=_backup(snap.last_backup, snap.now) if snap.last_backup else None,
        last_drill=StatusDrill(
            id=drill.id,
            backup_id=drill.backup_id,
            status=drill.status,  # type: ignore[arg-type]
            completed_at=drill.completed_at,
            error_message=drill.error_message,
        )
        if drill
        else None,
        stale=snap.freshness.stale(notifier.stale_after),
        stale_after=notifier.stale_after_text if notifier.stale_after is not None else "off",
        notify=NotifyStatus(
            configured=notifier.configured,
            targets=[t.label for t in notifier.targets],
            ping_configured=notifier.ping is not None,
            last_error=notifier.outbox.last_error(),
            undelivered=notifier.outbox.undelivered(),
        ),
        timezone=config.timezone,
        next_backup_at=next_backup,
        recent_backups=[_backup(r, snap.now) for r in snap.recent_backups],
    )


@router.post(
    "/api/notify/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=NotifyTestResponse,
    summary="Send a test notification to every target",
    responses={400: error_doc("No notification target configured: set BACKUPD_NOTIFY to one or more Apprise URLs")},
)
def notify_test(services: Services = Depends(get_services)) -> NotifyTestResponse:
    """Queued at once; delivery (with retries) happens in the background: see `notify.last_error` of /api/status."""
    try:
        queued = services.notifier.send_test()
    except NotConfigured as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return NotifyTestResponse(queued=queued)
