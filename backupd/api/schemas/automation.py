"""Schedules, retention, pinning and drills (backupd additions, docs/operations.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum, auto

from pydantic import ConfigDict, Field

from .backup import BackupJobStatus
from .base import ApiModel

# =============================================================================
# Schedules, retention, pinning and drills (backupd additions, docs/operations.md)
# =============================================================================


class RetentionPolicy(ApiModel):
    """restic's `forget --keep-*` meaning; all four at 0 keeps everything."""

    keep_last: int = Field(default=7, ge=0, description="Keep the newest N backups")
    keep_daily: int = Field(default=7, ge=0, description="Keep the newest backup of each of the last N days with one")
    keep_weekly: int = Field(
        default=4, ge=0, description="Keep the newest backup of each of the last N ISO weeks with one"
    )
    keep_monthly: int = Field(
        default=6, ge=0, description="Keep the newest backup of each of the last N months with one"
    )


class ScheduledBackupSummary(ApiModel):
    id: str = Field(..., description="Backup job id")
    status: BackupJobStatus = Field(..., description="Job status")
    created_at: datetime = Field(..., description="Job creation timestamp")


class ScheduleResponse(ApiModel):
    """Response of GET and PUT /api/schedule."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "schedule": "0 2 * * *",
                "timezone": "UTC",
                "next_run_at": "2026-03-02T02:00:00Z",
                "last_scheduled_backup": None,
                "retention": {"keep_last": 7, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6},
                "drill_schedule": "off",
                "next_drill_at": None,
                "drill_configured": False,
            }
        }
    )

    schedule: str = Field(..., description="Five-field cron expression in `timezone`, or 'off'")
    timezone: str = Field(..., description="IANA time zone of the schedule and of the retention buckets")
    next_run_at: datetime | None = Field(None, description="When the next scheduled backup starts (null when off)")
    last_scheduled_backup: ScheduledBackupSummary | None = Field(None, description="The newest scheduled backup")
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    drill_schedule: str = Field("off", description="Cron expression of automatic drills (BACKUPD_DRILL_SCHEDULE)")
    next_drill_at: datetime | None = Field(None, description="When the next automatic drill starts")
    drill_configured: bool = Field(False, description="Whether BACKUPD_DRILL_DATABASE_URL is set")


class PruneKept(ApiModel):
    id: str = Field(..., description="Backup id")
    reasons: list[str] = Field(
        ..., description="The rules that keep it: last, daily, weekly, monthly, newest, pinned, in use, no policy"
    )


class PruneResponse(ApiModel):
    """Response of POST /api/backup/prune."""

    kept: list[PruneKept] = Field(default_factory=list, description="Kept backups, newest first")
    removed: list[str] = Field(default_factory=list, description="Removed backups (dry run: would be removed)")


class DrillStatus(StrEnum):
    PENDING = auto()
    RUNNING = auto()
    PASSED = auto()
    FAILED = auto()


class DrillTableResult(ApiModel):
    expected_rows: int = Field(..., description="Rows in the archive")
    restored_rows: int | None = Field(None, description="Rows found after the restore")
    checksum_match: bool = Field(..., description="The re-exported data has the archive's SHA-256")


class DrillTrigger(StrEnum):
    """What started a drill (drill_runs.trigger's CHECK constraint)."""

    MANUAL = auto()
    SCHEDULE = auto()


class DrillResult(ApiModel):
    """One restore drill (GET /api/drills/{drill_id})."""

    id: str = Field(..., description="Drill id")
    backup_id: str = Field(..., description="The backup drilled")
    status: DrillStatus = Field(..., description="pending, running, passed or failed")
    trigger: DrillTrigger = Field(DrillTrigger.MANUAL, description="manual or schedule")
    created_at: datetime | None = Field(None, description="When the drill was requested")
    started_at: datetime | None = Field(None, description="When it started")
    completed_at: datetime | None = Field(None, description="When it ended")
    tables: dict[str, DrillTableResult] = Field(default_factory=dict, description="Per table comparison")
    error_message: str | None = Field(None, description="Why it failed")


class DrillStartResponse(ApiModel):
    drill_id: str = Field(..., description="Poll GET /api/drills/{drill_id}")
    status: DrillStatus = Field(DrillStatus.PENDING)


class DrillListResponse(ApiModel):
    drills: list[DrillResult] = Field(default_factory=list, description="Newest first")
    total: int = Field(0, description="Number of drills in the history")
