"""The automatic-backup schedule and retention policy: GET and PUT /api/schedule (docs/operations.md)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request, status

from ...schedule.cron import InvalidSchedule
from ...schedule.settings import validate_changes
from ..deps import Services, get_services
from ..jsonbody import json_object, request_body
from ..responses import error_doc
from ..schemas import RetentionPolicy, ScheduledBackupSummary, ScheduleResponse

router = APIRouter(prefix="/api/schedule", tags=["schedule"])

KEEP = {"type": "integer", "minimum": 0, "maximum": 1_000_000}  # as schedule.validate_changes checks
UPDATE_BODY = request_body(
    {
        "type": "object",
        "title": "ScheduleUpdate",
        "additionalProperties": False,
        "description": "Any subset of the settable fields; stored in the database, they win over the environment",
        "properties": {
            "schedule": {"type": "string", "description": "Five-field cron expression, or 'off'"},
            "timezone": {"type": "string", "description": "IANA time zone, e.g. UTC or Europe/Berlin"},
            "retention": {
                "type": "object",
                "additionalProperties": False,
                "properties": {k: KEEP for k in ("keep_last", "keep_daily", "keep_weekly", "keep_monthly")},
            },
        },
    },
    {"schedule": "30 3 * * *", "timezone": "Europe/Berlin", "retention": {"keep_daily": 14}},
)


def schedule_response(services: Services) -> ScheduleResponse:
    config = services.schedules.config()
    next_backup, next_drill = services.scheduler.next_runs(config)
    last = services.schedules.last_scheduled_backup()
    return ScheduleResponse(
        schedule=config.backup.expression,
        timezone=config.timezone,
        next_run_at=next_backup,
        last_scheduled_backup=ScheduledBackupSummary(
            id=str(last["id"]), status=last["status"], created_at=last["created_at"]
        )
        if last
        else None,
        retention=RetentionPolicy(**config.policy.as_dict()),
        drill_schedule=config.drill.expression,
        next_drill_at=next_drill,
        drill_configured=bool(services.settings.drill_database_url),
    )


@router.get("", response_model=ScheduleResponse, summary="The automatic-backup schedule and retention policy")
def get_schedule(services: Services = Depends(get_services)) -> ScheduleResponse:
    return schedule_response(services)


@router.put(
    "",
    response_model=ScheduleResponse,
    summary="Change the schedule, time zone or retention policy",
    openapi_extra=UPDATE_BODY,
    responses={
        400: error_doc("Invalid cron expression '…': bad minute / Unknown time zone: … / keep_daily must be 0 or more")
    },
)
async def put_schedule(request: Request, services: Services = Depends(get_services)) -> ScheduleResponse:
    """Takes effect at once on every replica; does not prune (the new policy applies after the next backup)."""
    body = await json_object(request)
    try:
        changes = validate_changes(body)
    except InvalidSchedule as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    await anyio.to_thread.run_sync(services.schedules.update, changes)
    return await anyio.to_thread.run_sync(schedule_response, services)
