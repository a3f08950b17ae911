"""Status and notifications (docs/operations.md, docs/rest-api.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .automation import DrillStatus
from .backup import BackupJobStatus, BackupTrigger
from .base import ApiModel

# =============================================================================
# Status and notifications (docs/operations.md, docs/rest-api.md)
# =============================================================================


class StatusBackup(ApiModel):
    """A backup as the health line and the chart show it."""

    id: str = Field(..., description="Backup job id")
    status: BackupJobStatus = Field(..., description="completed or failed (the chart); completed (last_backup)")
    trigger: BackupTrigger = Field(..., description="manual, schedule or safety")
    created_at: datetime = Field(..., description="When it was requested")
    completed_at: datetime | None = Field(..., description="When it ended")
    age_seconds: float | None = Field(..., description="Seconds from completed_at to now (the database's clock)")
    duration_seconds: float | None = Field(..., description="From start to end, in seconds")
    size_bytes: int | None = Field(..., description="Archive size (null for a failed backup)")
    rows_reused: int | None = Field(..., description="Rows copied from the previous backup (null: not recorded)")
    rows_read: int | None = Field(..., description="Rows read from the database (null: not recorded)")


class StatusDrill(ApiModel):
    id: str = Field(..., description="Drill id")
    backup_id: str = Field(..., description="The backup drilled")
    status: DrillStatus = Field(..., description="passed or failed")
    completed_at: datetime | None = Field(..., description="When it ended")
    error_message: str | None = Field(..., description="Why it failed")


class NotifyStatus(ApiModel):
    configured: bool = Field(..., description="Whether BACKUPD_NOTIFY names at least one target")
    targets: list[str] = Field(
        ..., description="The targets, by position and scheme (e.g. '#1 json://host…'): never a URL's secrets"
    )
    ping_configured: bool = Field(..., description="Whether BACKUPD_PING_URL is set")
    last_error: str | None = Field(
        ..., description="Why the latest delivery attempt failed; null when it succeeded or none was made"
    )
    undelivered: int = Field(..., description="Notifications and pings waiting for a retry")


class StatusResponse(ApiModel):
    """Response of GET /api/status: what the page's health line shows."""

    last_backup: StatusBackup | None = Field(..., description="The newest completed backup of the table set")
    last_drill: StatusDrill | None = Field(..., description="The newest finished restore drill")
    stale: bool = Field(..., description="No backup of the table set completed within BACKUPD_STALE_AFTER")
    stale_after: str = Field(..., description="BACKUPD_STALE_AFTER as configured ('off': never stale)")
    notify: NotifyStatus
    timezone: str = Field(..., description="The schedule's IANA time zone (times of the schedule are shown in it)")
    next_backup_at: datetime | None = Field(..., description="When the next scheduled backup is due (null: off)")
    recent_backups: list[StatusBackup] = Field(..., description="Finished backups, newest first (the chart)")


class NotifyTestResponse(ApiModel):
    """Response of POST /api/notify/test."""

    queued: int = Field(..., description="Targets the test notification was queued for")
