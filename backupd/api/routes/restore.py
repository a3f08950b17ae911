"""Restore jobs: upload an archive and restore it; poll its status (docs/rest-api.md).

Registered before the backup routes so `/api/backup/restore/...` is never read as a backup id.
The upload is checked (a ZIP, a readable manifest of a supported version) before answering 202,
so a bad file is a 400 with the reason rather than a job that fails a moment later.
"""

from __future__ import annotations

import functools
import os
import zipfile
from collections.abc import Collection
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Body, Depends, HTTPException, Request, status

from ...age import MAGIC as AGE_MAGIC
from ...age import AgeKeys, is_encrypted
from ...archive import ArchiveReader, ArchiveSource, Manifest
from ...db.locks import OperationLock
from ...errors import ArchiveError, BackupdError
from ...ids import uuid7
from ...jobs import RestoreRequest, restores_what_it_holds
from ...jobs.launch import launch_job
from ...store import NotFound
from ...store.directory import ArchiveFile
from ..deps import Services, get_services
from ..responses import error_responses, restore_job_response
from ..schemas import (
    RestoreJobResponse,
    RestoreJobStartResponse,
    RestoreJobStatus,
    RestoreOptions,
)
from ..upload import UploadInvalid, UploadTooLarge, declared_too_large, receive_upload
from .backup import BUSY_DETAIL, operation_lock_or_409

router = APIRouter(prefix="/api/backup", tags=["backup"])

NOT_A_ZIP_DETAIL = "Invalid file type. Expected a .zip backup file."
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty archive

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "title": "RestoreUpload",
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A backupd archive (.zip, or .zip.age when the server holds the identity)",
                    }
                },
                "required": ["file"],
            }
        }
    },
}


class NotAZip(Exception):
    pass


def form_options(fields: dict[str, str]) -> RestoreRequest:
    """The upload's optional form fields `tables` (comma-separated), `safety_backup`, `dry_run`."""

    def flag(name: str, default: bool) -> bool:
        value = fields.get(name, "").strip().lower()
        if value in ("", "true", "false"):
            return default if not value else value == "true"
        raise UploadInvalid(f"form field '{name}' must be true or false, not {fields[name]!r}")

    tables = [t.strip() for t in fields.get("tables", "").split(",") if t.strip()] or None
    return RestoreRequest(tables=tables, safety_backup=flag("safety_backup", True), dry_run=flag("dry_run", False))


def check_tables(options: RestoreRequest, archived: list[str]) -> None:
    """400 naming every requested table the archive does not hold (docs/restore-guarantees.md)."""
    unknown = [t for t in options.tables or [] if t not in archived]
    if unknown:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"Tables not in the archive: {', '.join(unknown)}")


def inspect_upload(path: Path, keys: AgeKeys) -> Manifest:
    """The archive's manifest; NotAZip, or a BackupdError with the reason, when unusable.

    An age-encrypted upload (docs/operations.md) is read through the server's identity.
    """
    with open(path, "rb") as f:
        magic = f.read(len(AGE_MAGIC))
    if is_encrypted(magic):
        if keys.identity_file is None:
            raise ArchiveError(
                "The upload is an encrypted (age) backup, but the server has no BACKUPD_AGE_IDENTITY_FILE to decrypt it"
            )
    elif magic[:4] not in ZIP_MAGIC or not zipfile.is_zipfile(path):
        raise NotAZip
    with ArchiveReader(ArchiveFile(path, keys)) as reader:
        return reader.manifest


def _cleanup(*paths: Path) -> None:
    for p in paths:
        with suppress(OSError):
            p.unlink(missing_ok=True)


RESTORE_JOB_LINKS = {  # OpenAPI links: a client (and schemathesis' stateful phase) polls the new job
    "GetRestoreJob": {
        "operationRef": "#/paths/~1api~1backup~1restore~1{job_id}/get",
        "parameters": {"job_id": "$response.body#/job_id"},
        "description": "Poll the job",
    }
}


@router.post(
    "/restore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RestoreJobStartResponse,
    summary="Start a restore from an uploaded archive",
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses={
        202: {"links": RESTORE_JOB_LINKS},
        **error_responses(
            {
                400: f"{NOT_A_ZIP_DETAIL} / the reason the archive is unusable (no readable manifest, unsupported"
                " version) / the body is not multipart/form-data with a 'file' field",
                409: BUSY_DETAIL,
                413: "Upload exceeds the limit of {BACKUPD_MAX_UPLOAD_BYTES} bytes",
            }
        ),
    },
)
async def start_restore(request: Request, services: Services = Depends(get_services)) -> RestoreJobStartResponse:
    """Stream the multipart `file` to disk, check it, then restore it in the background."""
    limit = services.settings.max_upload_bytes
    if declared_too_large(request, limit):
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"Upload exceeds the limit of {limit} bytes")
    lock = await operation_lock_or_409(services)
    job_id = uuid7()  # before the job exists: the upload is spooled under its name
    uploads = services.uploads_dir
    partial = uploads / f".upload-{job_id}.partial"
    final = uploads / f"{job_id}.zip"
    handed_off = False
    try:
        await anyio.to_thread.run_sync(lambda: uploads.mkdir(parents=True, exist_ok=True))
        try:
            _, fields = await receive_upload(request, partial, max_bytes=limit)
            options = form_options(fields)
        except UploadTooLarge as exc:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=str(exc)) from None
        except UploadInvalid as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
        try:
            manifest = await anyio.to_thread.run_sync(inspect_upload, partial, services.archives.keys)
        except NotAZip:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=NOT_A_ZIP_DETAIL) from None
        except BackupdError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
        check_tables(options, list(manifest.contents))
        os.replace(partial, final)
        response = await _start_restore_job(
            services,
            lock,
            ArchiveFile(final, services.archives.keys),
            options,
            manifest.contents,
            manifest.backup_id,
            manifest.created_at,
            job_id=job_id,
            upload=final,
        )
        handed_off = True
    finally:
        if not handed_off:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lock.close)
                await anyio.to_thread.run_sync(_cleanup, partial, final)
    return response


@router.post(
    "/{job_id}/restore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RestoreJobStartResponse,
    summary="Restore a saved backup from the store",
    responses={
        202: {"links": RESTORE_JOB_LINKS},
        **error_responses(
            {
                400: "Backup job is not complete (status: {status}) / Tables not in the archive: {names}",
                404: "Backup job not found: {job_id} / Backup file not found in the store: {job_id}",
                409: BUSY_DETAIL,
            }
        ),
    },
)
async def restore_saved_backup(
    job_id: str, body: RestoreOptions | None = Body(None), services: Services = Depends(get_services)
) -> RestoreJobStartResponse:
    """Restore a completed backup straight from the store (docs/restore-guarantees.md): optionally only some
    `tables`, as a `dry_run` that only reports `changes`, and (by default) after a safety backup."""
    options = RestoreRequest(**(body or RestoreOptions()).model_dump())
    row = await anyio.to_thread.run_sync(services.jobs.get, "backup", job_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Backup job not found: {job_id}")
    if row["status"] != "completed":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"Backup job is not complete (status: {row['status']})")
    manifest = row["manifest_json"] or {}
    if options.tables is None and restores_what_it_holds(row):
        options = RestoreRequest(list(manifest.get("contents", {})), options.safety_backup, options.dry_run)
    check_tables(options, list(manifest.get("contents", {})))
    name = services.object_name(row)
    try:
        if name is None:
            raise NotFound(job_id)
        await anyio.to_thread.run_sync(services.archives.info, name)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Backup file not found in the store: {job_id}") from None
    lock = await operation_lock_or_409(services)
    return await _start_restore_job(
        services,
        lock,
        services.archives.archive(name),
        options,
        manifest.get("contents", {}),
        str(row["id"]),
        row["created_at"],
    )


async def _start_restore_job(
    services: Services,
    lock: OperationLock,
    archive: ArchiveSource,
    options: RestoreRequest,
    archived_tables: Collection[str],
    backup_id: str,
    backup_created_at: datetime,
    *,
    job_id: str | None = None,
    upload: Path | None = None,
) -> RestoreJobStartResponse:
    """launch_job for a restore: its row (which backup, how many tables), then the runner's thread."""

    def create_row(job_id: str) -> dict[str, Any]:
        count = len(options.tables or archived_tables)
        return services.jobs.create_restore_job(
            job_id, count, backup_id, backup_created_at, dry_run=options.dry_run, tables=options.tables
        )

    def start(job_id: str, _row: dict[str, Any]) -> None:
        services.runner.start_restore(job_id, archive, lock, upload=upload, options=options)

    launched = await anyio.to_thread.run_sync(functools.partial(launch_job, lock, create_row, start, job_id=job_id))
    assert launched is not None  # create_row always answers a row
    return RestoreJobStartResponse(
        job_id=launched[0],
        status=RestoreJobStatus.PENDING,
        message=f"Restore job created. Use GET /api/backup/restore/{launched[0]} to track progress.",
    )


@router.get(
    "/restore/{job_id}",
    response_model=RestoreJobResponse,
    summary="Get a restore job's status",
    responses=error_responses({404: "Restore job not found: {job_id}"}),
)
def get_restore_job(job_id: str, services: Services = Depends(get_services)) -> RestoreJobResponse:
    row = services.jobs.get("restore", job_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Restore job not found: {job_id}")
    return restore_job_response(row)
