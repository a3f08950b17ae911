"""Job rows (dicts from backupd.jobs) to the API design's response models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .auth import HEADER as API_KEY_HEADER
from .auth import UNAUTHORIZED_DETAIL, requires_key
from .schemas import (
    BackupJobProgress,
    BackupJobResponse,
    BackupListItem,
    BackupManifest,
    BackupTrigger,
    DrillResult,
    ErrorResponse,
    RestoreJobProgress,
    RestoreJobResponse,
)
from .security import CROSS_ORIGIN_DETAIL, SAFE_METHODS, is_api_path

ERROR_SCHEMA_REF = f"#/components/schemas/{ErrorResponse.__name__}"


def error_doc(description: str) -> dict[str, Any]:
    """One OpenAPI `responses` entry: an error whose body is the shared `ErrorResponse` (`{"detail": ...}`)."""
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"example": {"detail": description}}},
    }


def error_responses(errors: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route decorator for the errors its handler raises, all with one body schema.

    Every error of the API is `{"detail": "<one line>"}` (`ErrorResponse` in the document), so a route
    declares each status its own code can answer, with the message (or its shape) as the description:

        @router.get("/{job_id}", response_model=BackupJobResponse,
                    responses=error_responses({404: "Backup job not found: {job_id}"}))

    Merge it with other entries when the route also documents a success body, e.g.
    `responses={200: {...}, **error_responses({...})}`. Declare only what the handler itself raises:
    the statuses every `/api/*` operation may answer (401 with a key, 403 Host/Origin, 500 unexpected,
    503 database unavailable) are added to the whole document by `document_common_errors`, and FastAPI
    adds 422 for operations with declared parameters or a body. Anything that answers a status that is
    not in the document fails `make test` (schemathesis, `mk/schemathesis.mk`), and so does a 400 for a
    request the document calls valid: type parameters and bodies as precisely as the handler checks them
    (formats, enums, minimum/maximum), and list a 400 that no schema can express (a cron expression that
    does not parse, an upload that is not an archive) in `tests/support/schemathesis.toml`, saying why.
    """
    return {code: error_doc(description) for code, description in errors.items()}


def _common_errors(path: str, method: str, *, api_key: bool) -> dict[str, str]:
    """The statuses the middlewares and app-wide handlers can answer for this operation (docs/rest-api.md)."""
    errors: dict[str, str] = {}
    if api_key and requires_key(path):
        errors["401"] = UNAUTHORIZED_DETAIL
    if not api_key or method.upper() not in SAFE_METHODS:
        # The Host check runs only without a key; the Origin check only for state-changing methods.
        errors["403"] = "Host not allowed: {host} / " + CROSS_ORIGIN_DETAIL
    errors["500"] = "Internal error: {reason}"
    errors["503"] = "Database unavailable: {reason}"
    return errors


def document_common_errors(openapi: dict[str, Any], *, api_key: bool) -> dict[str, Any]:
    """Add the app-wide error statuses to every `/api/*` operation of a generated OpenAPI document.

    Called once by the app's OpenAPI hook (`create_app`), so routes added later get them without
    declaring anything; an operation that documents one of these statuses itself keeps its own entry.
    """
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        ErrorResponse.__name__, ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for path, item in openapi.get("paths", {}).items():
        if not is_api_path(path):
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, description in _common_errors(path, method, api_key=api_key).items():
                if code in responses:
                    continue
                entry: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
                }
                if code == "401":
                    entry["headers"] = {
                        "WWW-Authenticate": {"description": f"`{API_KEY_HEADER}`", "schema": {"type": "string"}}
                    }
                responses[code] = entry
            operation["responses"] = dict(sorted(responses.items()))
    return openapi


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
        trigger=row.get("trigger") or BackupTrigger.MANUAL,
        pinned=bool(row.get("pinned")),
        encrypted=(row.get("file_path") or "").endswith(".age"),
        warnings=list((manifest or {}).get("warnings") or []) if completed else [],
        reuse=(manifest or {}).get("reuse") if completed else None,
    )


def backup_list_item(row: dict[str, Any]) -> BackupListItem:
    job_id = str(row["id"])
    return BackupListItem(
        id=job_id,
        created_at=row["created_at"],
        file_size_bytes=row["file_size_bytes"] or 0,
        status=row["status"],
        download_url=download_url(job_id) if row["status"] == "completed" else None,
        trigger=row.get("trigger") or BackupTrigger.MANUAL,
        pinned=bool(row.get("pinned")),
        encrypted=(row.get("file_path") or "").endswith(".age"),
        reuse=(row.get("manifest_json") or {}).get("reuse") if row["status"] == "completed" else None,
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
        dry_run=bool(row.get("dry_run")),
        tables=row.get("tables"),
        safety_backup_id=str(row["safety_backup_id"]) if row.get("safety_backup_id") else None,
        changes=row.get("changes"),
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
