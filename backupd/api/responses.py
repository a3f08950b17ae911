"""Job rows (dicts from backupd.jobs) to the seed's response models."""

from __future__ import annotations

from typing import Any

from ..schemas import (
    BackupJobProgress,
    BackupJobResponse,
    BackupListItem,
    BackupManifest,
    DrillResult,
    RestoreJobProgress,
    RestoreJobResponse,
)


def error_doc(description: str) -> dict[str, object]:
    """An OpenAPI `responses` entry for an error with FastAPI's `{"detail": ...}` body."""
    return {"description": description, "content": {"application/json": {"example": {"detail": description}}}}


def download_url(job_id: str) -> str:
    return f"/api/backup/{job_id}/download"


def _progress_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The job-table columns both progress models are made of."""
    return {key: row[key] for key in ("total_tables", "completed_tables", "progress_percent", "current_step")}


def backup_job_response(row: dict[str, Any]) -> BackupJobResponse:
    """The result fields appear only once completed (file_path is set when the job starts)."""
    completed = row["status"] == "completed"
    manifest = row["manifest_json"]
    return BackupJobResponse(
        id=str(row["id"]),
        status=row["status"],
        progress=BackupJobProgress(**_progress_fields(row)),
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        file_path=row["file_path"] if completed else None,
        file_size_bytes=row["file_size_bytes"] if completed else None,
        manifest=BackupManifest.model_validate(manifest) if completed and manifest else None,
        error_message=row["error_message"],
        trigger=row.get("trigger") or "manual",
        pinned=bool(row.get("pinned")),
    )


def backup_list_item(row: dict[str, Any]) -> BackupListItem:
    job_id = str(row["id"])
    return BackupListItem(
        id=job_id,
        created_at=row["created_at"],
        file_size_bytes=row["file_size_bytes"] or 0,
        status=row["status"],
        download_url=download_url(job_id) if row["status"] == "completed" else None,
        trigger=row.get("trigger") or "manual",
        pinned=bool(row.get("pinned")),
    )


def restore_job_response(row: dict[str, Any]) -> RestoreJobResponse:
    return RestoreJobResponse(
        id=str(row["id"]),
        status=row["status"],
        progress=RestoreJobProgress(**_progress_fields(row)),
        backup_id=row["backup_id"],
        backup_created_at=row["backup_created_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        items_restored=row["items_restored"],
        error_message=row["error_message"],
    )

def drill_result(row: dict[str, Any]) -> DrillResult:
    """A drill_runs row (backupd.drills) as the API's DrillResult."""
    return DrillResult(
        id=str(row["id"]),
        backup_id=str(row["backup_id"]),
        status=row["status"],
        trigger=row["trigger"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        tables=row["tables"] or {},
        error_message=row["error_message"],
    )
