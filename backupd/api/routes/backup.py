"""Backup jobs: start, list, status, download, delete (docs/rest-api.md).

Handlers that touch the database are plain `def` (FastAPI runs them in its thread pool) or
await `anyio.to_thread`, so the event loop only ever waits on sockets.
"""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from fastapi.responses import Response

from ...db.locks import OperationLock, try_operation_lock
from ...errors import BusyError
from ...jobs.launch import launch_job
from ...store import NotFound
from ..deps import Services, get_services
from ..download import archive_response
from ..responses import (
    backup_job_response,
    backup_list_item,
    error_doc,
    error_responses,
)
from ..schemas import (
    BackupDeleteResponse,
    BackupJobCreate,
    BackupJobResponse,
    BackupJobStartResponse,
    BackupJobStatus,
    BackupListResponse,
)

log = logging.getLogger("backupd.api")
router = APIRouter(prefix="/api/backup", tags=["backup"])

BUSY_DETAIL = "Another backup or restore is already running"


async def operation_lock_or_409(services: Services) -> OperationLock:
    """The operation lock for the job this request starts; 409 while another backup or restore holds it."""
    try:
        return await anyio.to_thread.run_sync(try_operation_lock, services.database_url)
    except BusyError:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=BUSY_DETAIL) from None


NOT_FOUND_DOC = "Backup job not found: {job_id}"
BINARY = {"type": "string", "format": "binary"}
# Starlette's FileResponse answers a malformed Range header of a locally stored archive in text/plain.
DOWNLOAD_BAD_REQUEST = error_doc("Backup job is not complete (status: {status})")
DOWNLOAD_BAD_REQUEST["content"]["text/plain"] = {"schema": {"type": "string"}, "example": "Malformed range header."}
JOB_ID_LINKS = {  # OpenAPI links: what a client (and schemathesis' stateful phase) does with a new job id
    name: {
        "operationRef": f"#/paths/~1api~1backup~1{{job_id}}{suffix}/{method}",
        "parameters": {"job_id": "$response.body#/job_id"},
        "description": description,
    }
    for name, suffix, method, description in (
        ("GetBackupJob", "", "get", "Poll the job"),
        ("DownloadBackup", "~1download", "get", "Download the archive once completed"),
        ("DeleteBackup", "", "delete", "Delete the backup once finished"),
        ("PinBackup", "", "patch", "Pin or unpin the backup"),
        ("DrillBackup", "~1drill", "post", "Start a restore drill of the backup once completed"),
    )
}


def not_found(job_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Backup job not found: {job_id}")


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BackupJobStartResponse,
    summary="Start a backup job",
    responses={
        202: {"links": JOB_ID_LINKS},
        **error_responses({400: "There was an error parsing the body", 409: BUSY_DETAIL}),
    },
)
async def start_backup(
    body: BackupJobCreate | None = Body(None),
    services: Services = Depends(get_services),
) -> BackupJobStartResponse:
    """Create a backup job and run it in the background; poll GET /api/backup/{job_id}."""
    lock = await operation_lock_or_409(services)
    launched = await anyio.to_thread.run_sync(
        launch_job,
        lock,
        lambda job_id: services.jobs.create_backup_job(job_id, len(services.settings.tables)),
        lambda job_id, _row: services.runner.start_backup(
            job_id, services.archives.new_archive(job_id), lock, full=body is not None and body.full
        ),
    )
    assert launched is not None  # create_backup_job always answers a row
    job_id, _ = launched
    return BackupJobStartResponse(
        job_id=job_id,
        status=BackupJobStatus.PENDING,
        message=f"Backup job created. Use GET /api/backup/{job_id} to track progress.",
    )


@router.get("", response_model=BackupListResponse, summary="List completed backups")
def list_backups(services: Services = Depends(get_services)) -> BackupListResponse:
    """Completed backups whose archive is still in the store, newest first."""
    present = {o.name for o in services.archives.list()}
    rows = [r for r in services.jobs.list_completed_backups() if services.object_name(r) in present]
    items = [backup_list_item(r) for r in rows]
    return BackupListResponse(backups=items, total=len(items))


@router.get(
    "/{job_id}",
    response_model=BackupJobResponse,
    summary="Get a backup job's status",
    responses=error_responses({404: NOT_FOUND_DOC}),
)
def get_backup_job(job_id: str, services: Services = Depends(get_services)) -> BackupJobResponse:
    row = services.jobs.get("backup", job_id)
    if row is None:
        raise not_found(job_id)
    return backup_job_response(row)


@router.get(
    "/{job_id}/download",
    response_class=Response,
    summary="Download a backup archive",
    responses={
        200: {
            "content": {"application/zip": {"schema": BINARY}, "application/octet-stream": {"schema": BINARY}},
            "description": "The archive (HTTP Range requests supported); an encrypted one (.zip.age) is"
            " application/octet-stream",
        },
        206: {
            "content": {"application/zip": {"schema": BINARY}, "application/octet-stream": {"schema": BINARY}},
            "description": "Partial content (a single-range Range request; several ranges get the whole archive, 200)",
        },
        400: DOWNLOAD_BAD_REQUEST,
        **error_responses({404: NOT_FOUND_DOC + " / Backup file not found in the store: {job_id}"}),
        416: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Range not satisfiable (`Content-Range: bytes */{size}`)",
        },
    },
)
def download_backup(job_id: str, request: Request, services: Services = Depends(get_services)) -> Response:
    row = services.jobs.get("backup", job_id)
    if row is None:
        raise not_found(job_id)
    if row["status"] != BackupJobStatus.COMPLETED:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"Backup job is not complete (status: {row['status']})")
    name = services.object_name(row)
    try:
        if name is None:
            raise NotFound(name)
        size = services.archives.info(name).size
        media_type = "application/octet-stream" if name.endswith(".age") else "application/zip"  # stored bytes
        return archive_response(request, services.archives, name, size, media_type)
    except NotFound:  # also when it was deleted a moment ago (DELETE, retention): never a 500
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Backup file not found in the store: {job_id}") from None


@router.delete(
    "/{job_id}",
    response_model=BackupDeleteResponse,
    summary="Delete a backup (file and job)",
    responses=error_responses({404: NOT_FOUND_DOC, 409: "Backup job is still running (status: {status})"}),
)
def delete_backup(job_id: str, services: Services = Depends(get_services)) -> BackupDeleteResponse:
    row = services.jobs.get("backup", job_id)
    if row is None:
        raise not_found(job_id)
    if not services.jobs.delete_backup_job(str(row["id"])):  # only finished jobs are deleted
        again = services.jobs.get("backup", job_id)
        if again is None:
            raise not_found(job_id)
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"Backup job is still running (status: {again['status']})")
    name = services.object_name(row)
    if name is not None:
        try:
            services.archives.delete(name)
        except Exception as exc:  # the row is gone; say so in the log, not as a failure
            log.warning("backup %s: row deleted but its archive could not be removed: %s", job_id, exc)
    return BackupDeleteResponse(deleted=True)
