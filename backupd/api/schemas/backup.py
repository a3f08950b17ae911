"""Backups and restores: the API design's `backend/api/schemas/backup.py`, field for field.

The web UI and outside clients are written against these shapes (docs/rest-api.md), so
names, types, defaults, descriptions and examples are copied verbatim from the API design. The few
models after the API design's section (delete, health and error bodies) are backupd's own additions
for endpoints whose bodies the API design gives only as literals.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum, auto

from pydantic import ConfigDict, Field, StrictBool

from .base import ApiModel

# =============================================================================
# Enums
# =============================================================================


class BackupJobStatus(StrEnum):
    """Backup job status values."""

    PENDING = auto()
    RUNNING = auto()
    COMPLETED = auto()
    FAILED = auto()


class RestoreJobStatus(StrEnum):
    """Restore job status values."""

    PENDING = auto()
    VALIDATING = auto()
    RESTORING = auto()
    COMPLETED = auto()
    FAILED = auto()


class BackupTrigger(StrEnum):
    """What started a backup (backupd addition, docs/operations.md)."""

    MANUAL = auto()
    SCHEDULE = auto()
    SAFETY = auto()


# =============================================================================
# Backup Manifest (stored in backup ZIP)
# =============================================================================


class BackupContentInfo(ApiModel):
    """Information about a single backup content type."""

    count: int = Field(..., description="Number of records")
    checksum: str = Field(..., description="SHA256 checksum of the JSON file")


class BackupReuse(ApiModel):
    """What a backup copied from the previous one and what it read (docs/change-proportional-backups.md)."""

    parts_reused: int = Field(..., ge=0, description="Parts copied from the previous backup, proved unchanged")
    rows_reused: int = Field(..., ge=0, description="Rows in those parts")
    parts_read: int = Field(..., ge=0, description="Parts read from the database")
    rows_read: int = Field(..., ge=0, description="Rows in those parts")


class BackupManifest(ApiModel):
    """Manifest file stored inside backup ZIP."""

    model_config = ConfigDict(from_attributes=True)

    backup_id: str = Field(..., description="Unique backup identifier")
    version: str = Field(..., description="Backup format version (e.g., '1.0')")
    created_at: datetime = Field(..., description="Backup creation timestamp")
    app_version: str | None = Field(None, description="Application version")
    contents: dict[str, BackupContentInfo] = Field(
        default_factory=dict,
        description="Map of content type to info (events, alerts, cameras, etc.)",
    )


# =============================================================================
# API Request/Response Schemas
# =============================================================================


class BackupJobCreate(ApiModel):
    """Schema for creating a backup job (every field optional: `{}` or no body is a normal backup)."""

    model_config = ConfigDict(json_schema_extra={"example": {}})
    full: StrictBool = Field(  # strict: `{"full": 0}` or `"yes"` is a 400, not a silent full backup
        False,
        description="Read every row, reusing no part of the previous backup (docs/change-proportional-backups.md)",
    )


class BackupJobStartResponse(ApiModel):
    """Response when creating a backup job."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "job_id": "019478a1-b2c3-7def-8901-234567890abc",
                "status": "pending",
                "message": "Backup job created. Use GET /api/backup/{job_id} to track progress.",
            }
        }
    )
    job_id: str = Field(..., description="Unique job identifier")
    status: BackupJobStatus = Field(BackupJobStatus.PENDING, description="Initial status")
    message: str = Field(..., description="Human-readable message")


class BackupJobProgress(ApiModel):
    """Progress information for a backup job."""

    total_tables: int = Field(default=8, description="Total tables to export")
    completed_tables: int = Field(default=0, description="Tables exported so far")
    progress_percent: int = Field(default=0, ge=0, le=100, description="Progress percentage")
    current_step: str | None = Field(default=None, description="Current step description")


class BackupJobResponse(ApiModel):
    """Full status response for a backup job."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(..., description="Unique backup job identifier")
    status: BackupJobStatus = Field(..., description="Current job status")
    progress: BackupJobProgress = Field(default_factory=BackupJobProgress)

    # Timing
    created_at: datetime = Field(..., description="Job creation timestamp")
    started_at: datetime | None = Field(None, description="Job start timestamp")
    completed_at: datetime | None = Field(None, description="Job completion timestamp")

    # Result (on completion)
    file_path: str | None = Field(None, description="Download path for backup file")
    file_size_bytes: int | None = Field(None, description="Backup file size")
    manifest: BackupManifest | None = Field(None, description="Backup manifest")

    # Error (on failure)
    error_message: str | None = Field(None, description="Error message if failed")

    # backupd additions (docs/operations.md)
    trigger: BackupTrigger = Field(BackupTrigger.MANUAL, description="What started the backup")
    pinned: bool = Field(False, description="A pinned backup is never removed by retention")
    encrypted: bool = Field(False, description="Stored age-encrypted (.zip.age, docs/operations.md)")
    warnings: list[str] = Field(
        default_factory=list,
        description="What the backup noticed but did not fail on, e.g. a table referencing one outside the set",
    )
    reuse: BackupReuse | None = Field(
        None,
        description="Parts and rows reused from the previous backup and read (null until completed, or not recorded)",
    )


class BackupListItem(ApiModel):
    """Summary item for backup list."""

    id: str = Field(..., description="Backup ID")
    created_at: datetime = Field(..., description="Creation timestamp")
    file_size_bytes: int = Field(..., description="File size in bytes")
    status: BackupJobStatus = Field(..., description="Job status")
    download_url: str | None = Field(None, description="Download URL if completed")

    # backupd additions (docs/operations.md)
    trigger: BackupTrigger = Field(BackupTrigger.MANUAL, description="What started the backup")
    pinned: bool = Field(False, description="A pinned backup is never removed by retention")
    encrypted: bool = Field(False, description="Stored age-encrypted (.zip.age, docs/operations.md)")
    reuse: BackupReuse | None = Field(None, description="Parts and rows reused and read; null when not recorded")


class BackupListResponse(ApiModel):
    """Response for listing available backups."""

    backups: list[BackupListItem] = Field(default_factory=list)
    total: int = Field(0, description="Total number of backups")


# =============================================================================
# Restore Schemas
# =============================================================================


class RestoreJobStartResponse(ApiModel):
    """Response when starting a restore job."""

    job_id: str = Field(..., description="Unique restore job identifier")
    status: RestoreJobStatus = Field(RestoreJobStatus.PENDING)
    message: str = Field(..., description="Human-readable message")


class RestoreJobProgress(ApiModel):
    """Progress information for a restore job."""

    total_tables: int = Field(default=8, description="Total tables to restore")
    completed_tables: int = Field(default=0, description="Tables restored so far")
    progress_percent: int = Field(default=0, ge=0, le=100, description="Progress percentage")
    current_step: str | None = Field(default=None, description="Current step description")


class TableChanges(ApiModel):
    """What a restore changes in one table, comparing the archive's rows with the live ones by primary key."""

    archive_rows: int = Field(..., description="Rows in the archive")
    live_rows: int = Field(..., description="Rows in the live table before the restore")
    added: int = Field(..., description="Keys only in the archive (rows the restore adds)")
    removed: int = Field(..., description="Keys only in the live table (rows the restore removes)")
    changed: int = Field(..., description="Same key, a different value in any column")
    unchanged: int = Field(..., description="Same key, same values")


class RestoreJobResponse(ApiModel):
    """Full status response for a restore job."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(..., description="Unique restore job identifier")
    status: RestoreJobStatus = Field(..., description="Current job status")
    progress: RestoreJobProgress = Field(default_factory=RestoreJobProgress)

    # Source backup info
    backup_id: str | None = Field(None, description="Source backup ID from manifest")
    backup_created_at: datetime | None = Field(None, description="When source backup was created")

    # Timing
    created_at: datetime = Field(..., description="Job creation timestamp")
    started_at: datetime | None = Field(None, description="Job start timestamp")
    completed_at: datetime | None = Field(None, description="Job completion timestamp")

    # Result (on completion)
    items_restored: dict[str, int] | None = Field(None, description="Count of restored items per table")

    # Error (on failure)
    error_message: str | None = Field(None, description="Error message if failed")

    # backupd additions (docs/restore-guarantees.md)
    dry_run: bool = Field(False, description="A dry run validates and stages, reports `changes`, changes nothing")
    tables: list[str] | None = Field(None, description="The tables replaced (all of the archive's when null)")
    safety_backup_id: str | None = Field(
        None, description="The backup of the replaced tables taken just before the swap: restoring it undoes this"
    )
    changes: dict[str, TableChanges] | None = Field(
        None, description="Per table, what the restore changes (or would change), compared by primary key"
    )


class RestoreOptions(ApiModel):
    """Body of `POST /api/backup/{job_id}/restore` (all optional)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"tables": ["settings"], "dry_run": True}})

    tables: list[str] | None = Field(
        default=None, description="Only these tables are replaced (each must be in the archive)"
    )
    safety_backup: bool = Field(
        default=True, description="Back up the tables being replaced first (restoring it undoes this)"
    )
    dry_run: bool = Field(default=False, description="Validate and stage, report `changes`, change nothing")


# =============================================================================
# backupd additions (bodies the API design gives only as literals)
# =============================================================================


class BackupDeleteResponse(ApiModel):
    """Response of DELETE /api/backup/{job_id} (the API design's literal `{"deleted": true}`)."""

    deleted: bool = Field(True, description="True once the archive file and the job row are gone")


class HealthResponse(ApiModel):
    """Response of GET /api/health."""

    status: str = Field("ok", description="'ok' when the service and its database answer")
    database: str = Field("ok", description="Database reachability")
    version: str = Field(..., description="backupd version")
    database_version: str | None = Field(
        None, description="The connected PostgreSQL server's server_version, e.g. '18.6' (docs/operations.md)"
    )


class ErrorResponse(ApiModel):
    """Every error body of the API: FastAPI's `{"detail": "..."}` with a one-line reason (docs/rest-api.md).

    Request validation errors (422) are the exception: FastAPI's `HTTPValidationError`, a list.
    """

    model_config = ConfigDict(json_schema_extra={"example": {"detail": "Backup job not found: 0194…"}})

    detail: str = Field(..., description="Why the request failed, in one line")
