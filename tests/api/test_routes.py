"""The REST API through real HTTP (uvicorn + httpx) against a real PostgreSQL (docs/rest-api.md)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from backupd import DEFAULT_TABLES
from backupd.archive import verify_archive
from backupd.db.locks import try_operation_lock
from tests.support.api import (
    ApiServer,
    assert_monotonic,
    fill_app_data,
    finished,
    poll,
    run_backup,
    table_fingerprint,
    zip_bytes,
)


def needs_restore_engine() -> None:
    pytest.importorskip("backupd.restore", reason="backupd.restore (restore engine) not available yet")


# ------------------------------------------------------------------------------------------
# Health


def test_health_ok(client: httpx.Client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["version"]


def test_health_503_when_database_does_not_answer(server: ApiServer, pg_server_url: str, database_url: str) -> None:
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    dbname = conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
    with server.client() as c:
        response = c.get("/api/health")
        assert response.status_code == 503
        assert response.json()["detail"].startswith("Database unavailable:")
        # other endpoints report the outage as 503 too, not as a 500
        assert c.get(f"/api/backup/{uuid.uuid4()}").status_code == 503


def test_503_says_why_when_the_pool_cannot_connect(server: ApiServer, pg_server_url: str, database_url: str) -> None:
    """Once the pool's sessions are gone and no new one can be opened, a request waits the pool's
    timeout and is answered 503 with libpq's reason, in one line (PoolTimeout, backupd.db.pool)."""
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    server.services.pool.timeout = 2.0
    dbname = conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
    with server.client() as c:
        details = [c.get(f"/api/backup/{uuid.uuid4()}") for _ in range(2)]
    assert [r.status_code for r in details] == [503, 503]
    # the first may meet a session the drop ended; the pool drops it and checks the rest
    detail = details[-1].json()["detail"]
    assert detail.startswith("Database unavailable: cannot connect to the database: ") and "\n" not in detail
    assert dbname in detail and detail.endswith("(no connection within 2 s)"), detail


# ------------------------------------------------------------------------------------------
# Backup → download → restore round trip


def test_backup_download_restore_round_trip(
    server: ApiServer, client: httpx.Client, db: psycopg.Connection, tmp_path: Path
) -> None:
    fill_app_data(db, events=3000)
    original = table_fingerprint(db)

    start = client.post("/api/backup")
    assert start.status_code == 202
    body = start.json()
    assert set(body) == {"job_id", "status", "message"} and body["status"] == "pending"
    job_id = body["job_id"]
    assert str(uuid.UUID(job_id)) == job_id and uuid.UUID(job_id).version == 7
    assert job_id in body["message"]
    seen = poll(client, f"/api/backup/{job_id}", until=finished, interval=0.005)
    assert_monotonic(seen)
    job = seen[-1]
    assert job["status"] == "completed", job
    assert job["progress"] == {
        "total_tables": 8,
        "completed_tables": 8,
        "progress_percent": 100,
        "current_step": "Backup complete",
    }
    assert job["started_at"] and job["completed_at"] and job["error_message"] is None
    assert job["manifest"]["backup_id"] == job_id and job["manifest"]["version"] == "1.1"
    assert set(job["manifest"]) == {"backup_id", "version", "created_at", "app_version", "contents"}
    assert job["manifest"]["contents"]["events"]["count"] == 3000
    assert set(job["manifest"]["contents"]) == set(DEFAULT_TABLES)
    assert all(set(v) == {"count", "checksum"} for v in job["manifest"]["contents"].values())
    archive = Path(job["file_path"])
    assert archive.is_file() and archive.parent == server.settings.archive_dir
    assert job["file_size_bytes"] == archive.stat().st_size

    listing = client.get("/api/backup").json()
    assert listing["total"] == 1
    assert listing["backups"][0] == {
        "id": job_id,
        "created_at": job["created_at"],
        "file_size_bytes": job["file_size_bytes"],
        "status": "completed",
        "download_url": f"/api/backup/{job_id}/download",
        "trigger": "manual",
        "pinned": False,
        "encrypted": False,
        "reuse": job["reuse"],  # the first backup of the database reads every row
    }
    rows = sum(t["count"] for t in job["manifest"]["contents"].values())
    assert job["reuse"] == {"parts_reused": 0, "rows_reused": 0, "parts_read": 8, "rows_read": rows}

    download = client.get(f"/api/backup/{job_id}/download")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"] == f'attachment; filename="{archive.name}"'
    assert download.content == archive.read_bytes()
    saved = tmp_path / "downloaded.zip"
    saved.write_bytes(download.content)
    assert verify_archive(saved).backup_id == job_id

    # change the database, then restore the downloaded archive through the API
    db.execute("DELETE FROM alerts WHERE event_id < 100")
    db.execute("UPDATE events SET summary = 'changed' WHERE id % 7 = 0")
    db.execute("INSERT INTO settings (key, value) VALUES ('extra', '1')")
    assert table_fingerprint(db) != original

    needs_restore_engine()
    upload = client.post("/api/backup/restore", files={"file": ("backup.zip", saved.read_bytes(), "application/zip")})
    assert upload.status_code == 202, upload.text
    start_body = upload.json()
    assert set(start_body) == {"job_id", "status", "message"} and start_body["status"] == "pending"
    restore_id = start_body["job_id"]
    seen = poll(client, f"/api/backup/restore/{restore_id}", until=finished, interval=0.005)
    assert_monotonic(seen)
    statuses = [b["status"] for b in seen]
    order = ["pending", "validating", "restoring", "completed"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses), statuses
    result = seen[-1]
    assert result["status"] == "completed", result
    assert result["backup_id"] == job_id
    assert datetime.fromisoformat(result["backup_created_at"]) == datetime.fromisoformat(job["manifest"]["created_at"])
    assert result["items_restored"] == {k: v["count"] for k, v in job["manifest"]["contents"].items()}
    assert result["progress"]["progress_percent"] == 100 and result["error_message"] is None
    assert table_fingerprint(db) == original
    assert not list(server.services.uploads_dir.iterdir())  # the upload is removed after the job


# ------------------------------------------------------------------------------------------
# Unknown ids, route order


@pytest.mark.parametrize("job_id", ["not-a-uuid", "12345", "restore", str(uuid.uuid4()), "%E2%9C%93"])
def test_unknown_or_non_uuid_backup_ids_are_404(client: httpx.Client, job_id: str) -> None:
    shown = httpx.URL(f"/api/backup/{job_id}").path.rsplit("/", 1)[1]
    for method, url in (
        ("GET", f"/api/backup/{job_id}"),
        ("GET", f"/api/backup/{job_id}/download"),
        ("DELETE", f"/api/backup/{job_id}"),
    ):
        if url == "/api/backup/restore/download":
            continue  # that path belongs to the restore routes (see test_restore_route_is_never_a_backup_id)
        response = client.request(method, url)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json() == {"detail": f"Backup job not found: {shown}"}


@pytest.mark.parametrize("job_id", ["not-a-uuid", "download", str(uuid.uuid4())])
def test_unknown_or_non_uuid_restore_ids_are_404(client: httpx.Client, job_id: str) -> None:
    response = client.get(f"/api/backup/restore/{job_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Restore job not found: {job_id}"}


def test_restore_route_is_never_a_backup_id(client: httpx.Client, db: psycopg.Connection) -> None:
    restore_id = str(uuid.uuid4())
    db.execute("INSERT INTO backupd.restore_jobs (id, status) VALUES (%s, 'restoring')", [restore_id])
    body = client.get(f"/api/backup/restore/{restore_id}").json()
    assert body["id"] == restore_id and body["status"] == "restoring"
    # a backup id equal to a restore id is not found among backups, and vice versa
    assert client.get(f"/api/backup/{restore_id}").json() == {"detail": f"Backup job not found: {restore_id}"}


# ------------------------------------------------------------------------------------------
# Download and delete


def _insert_backup_row(
    db: psycopg.Connection, status: str, file_path: str | None = None, size: int | None = None
) -> str:
    job_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO backupd.backup_jobs (id, status, file_path, file_size_bytes) VALUES (%s, %s, %s, %s)",
        [job_id, status, file_path, size],
    )
    return job_id


@pytest.mark.parametrize("status", ["pending", "running", "failed"])
def test_download_of_unfinished_job_is_400(client: httpx.Client, db: psycopg.Connection, status: str) -> None:
    job_id = _insert_backup_row(db, status)
    response = client.get(f"/api/backup/{job_id}/download")
    assert response.status_code == 400
    assert response.json() == {"detail": f"Backup job is not complete (status: {status})"}


def test_download_with_file_missing_is_404(client: httpx.Client, db: psycopg.Connection, tmp_path: Path) -> None:
    job_id = _insert_backup_row(db, "completed", str(tmp_path / "gone.zip"), 10)
    response = client.get(f"/api/backup/{job_id}/download")
    assert response.status_code == 404
    assert job_id in response.json()["detail"]
    assert client.get("/api/backup").json() == {"backups": [], "total": 0}  # not listed either


def test_download_supports_range_requests(client: httpx.Client, db: psycopg.Connection) -> None:
    fill_app_data(db, events=50)
    job_id, _ = run_backup(client)
    whole = client.get(f"/api/backup/{job_id}/download")
    assert whole.headers.get("accept-ranges") == "bytes"
    size = len(whole.content)
    part = client.get(f"/api/backup/{job_id}/download", headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-99/{size}"
    assert part.content == whole.content[10:100]
    tail = client.get(f"/api/backup/{job_id}/download", headers={"Range": f"bytes={size - 5}-"})
    assert tail.status_code == 206 and tail.content == whole.content[-5:]
    resumed = client.get(f"/api/backup/{job_id}/download", headers={"Range": "bytes=100-"})
    assert whole.content[:100] + resumed.content == whole.content
    unsatisfiable = client.get(f"/api/backup/{job_id}/download", headers={"Range": f"bytes={size + 10}-"})
    assert unsatisfiable.status_code == 416


def test_delete_removes_file_and_row(client: httpx.Client, db: psycopg.Connection) -> None:
    fill_app_data(db, events=20)
    job_id, seen = run_backup(client)
    path = Path(seen[-1]["file_path"])
    assert path.is_file()
    response = client.delete(f"/api/backup/{job_id}")
    assert response.status_code == 200 and response.json() == {"deleted": True}
    assert not path.exists()
    assert db.execute("SELECT count(*) FROM backupd.backup_jobs").fetchone()[0] == 0
    assert client.get(f"/api/backup/{job_id}").status_code == 404
    assert client.delete(f"/api/backup/{job_id}").status_code == 404
    assert client.get("/api/backup").json() == {"backups": [], "total": 0}


@pytest.mark.parametrize("status", ["pending", "running"])
def test_delete_while_running_is_409(client: httpx.Client, db: psycopg.Connection, status: str) -> None:
    job_id = _insert_backup_row(db, status)
    response = client.delete(f"/api/backup/{job_id}")
    assert response.status_code == 409
    assert response.json() == {"detail": f"Backup job is still running (status: {status})"}
    assert db.execute("SELECT count(*) FROM backupd.backup_jobs").fetchone()[0] == 1


def test_delete_failed_job(client: httpx.Client, db: psycopg.Connection) -> None:
    job_id = _insert_backup_row(db, "failed")
    assert client.delete(f"/api/backup/{job_id}").json() == {"deleted": True}


def test_list_is_completed_only_newest_first(server: ApiServer, client: httpx.Client, db: psycopg.Connection) -> None:
    ids = []
    server.settings.archive_dir.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        path = server.settings.archive_dir / f"b{i}.zip"
        path.write_bytes(b"PK")
        job_id = _insert_backup_row(db, "completed", str(path), 2)
        db.execute(
            "UPDATE backupd.backup_jobs SET created_at = now() - %s * interval '1 hour' WHERE id = %s", [3 - i, job_id]
        )
        ids.append(job_id)
    _insert_backup_row(db, "failed")
    _insert_backup_row(db, "running")
    body = client.get("/api/backup").json()
    assert [b["id"] for b in body["backups"]] == ids[::-1] and body["total"] == 3


# ------------------------------------------------------------------------------------------
# Failures and one-at-a-time


def test_failed_backup_reports_error_and_leaves_no_file(make_server, db: psycopg.Connection) -> None:
    server = make_server(tables=("events", "no_such_table"))
    with server.client() as c:
        _, seen = run_backup(c)
    job = seen[-1]
    assert job["status"] == "failed"
    assert "no_such_table" in job["error_message"]
    assert job["file_path"] is None and job["manifest"] is None and job["progress"]["progress_percent"] < 100
    assert job["progress"]["total_tables"] == 2
    archive_dir = server.settings.archive_dir
    assert not archive_dir.exists() or not [p for p in archive_dir.rglob("*") if p.is_file()]
    with server.client() as c:  # the lock was released
        assert c.post("/api/backup").status_code == 202


def test_409_while_another_process_holds_the_operation_lock(client: httpx.Client, database_url: str) -> None:
    lock = try_operation_lock(database_url)  # as another backupd process running a backup would
    try:
        response = client.post("/api/backup")
        assert response.status_code == 409
        assert response.json() == {"detail": "Another backup or restore is already running"}
        response = client.post("/api/backup/restore", files={"file": ("b.zip", b"PK\x03\x04junk", "application/zip")})
        assert response.status_code == 409
    finally:
        lock.close()
    assert client.post("/api/backup").status_code == 202


def test_409_on_concurrent_backups_and_restores(
    client: httpx.Client, db: psycopg.Connection, database_url: str
) -> None:
    """A running job holds the lock until it ends: a second backup or a restore gets 409 meanwhile."""
    fill_app_data(db, events=20)
    # make the first backup wait: a session holding a conflicting lock on events delays its snapshot
    blocker = psycopg.connect(database_url, autocommit=False)
    try:
        blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        first = client.post("/api/backup")
        assert first.status_code == 202
        assert client.post("/api/backup").status_code == 409
        restore = client.post("/api/backup/restore", files={"file": ("b.zip", b"not a zip", "application/zip")})
        assert restore.status_code == 409
        assert client.get(f"/api/backup/{first.json()['job_id']}").json()["status"] in ("pending", "running")
    finally:
        blocker.rollback()
        blocker.close()
    job = poll(client, f"/api/backup/{first.json()['job_id']}", until=finished)[-1]
    assert job["status"] == "completed"
    assert client.post("/api/backup").status_code == 202


# ------------------------------------------------------------------------------------------
# Restore upload checks


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"", "Invalid file type. Expected a .zip backup file."),
        (b"just some text, not a zip at all", "Invalid file type. Expected a .zip backup file."),
        (b"PK\x03\x04 truncated zip", "Invalid file type. Expected a .zip backup file."),
        (zip_bytes({"events.jsonl": b"{}\n"}), "archive has no manifest.json"),
        (zip_bytes({"manifest.json": b"{not json"}), None),
        (
            zip_bytes(
                {
                    "manifest.json": json.dumps(
                        {"backup_id": "x", "version": "2.0", "created_at": "2026-01-01T00:00:00Z", "contents": {}}
                    ).encode()
                }
            ),
            "Unsupported backup version: 2.0. Expected: 1.0 or 1.1",
        ),
    ],
    ids=["empty", "text", "truncated-zip", "no-manifest", "bad-manifest", "version-2"],
)
def test_restore_upload_rejects_bad_files(
    server: ApiServer, client: httpx.Client, payload: bytes, detail: str | None
) -> None:
    response = client.post("/api/backup/restore", files={"file": ("backup.zip", payload, "application/zip")})
    assert response.status_code == 400, response.text
    if detail is not None:
        assert response.json() == {"detail": detail}
    else:
        assert response.json()["detail"].startswith("manifest.json is not valid JSON")
    uploads = server.services.uploads_dir
    assert not uploads.exists() or not list(uploads.iterdir())
    assert client.post("/api/backup").status_code == 202  # lock released


def test_restore_upload_without_file_field_is_400(client: httpx.Client) -> None:
    response = client.post("/api/backup/restore", files={"other": ("x.zip", b"PK", "application/zip")})
    assert response.status_code == 400 and "file" in response.json()["detail"]
    response = client.post("/api/backup/restore", content=b"raw", headers={"content-type": "application/zip"})
    assert response.status_code == 400


def test_restore_upload_over_the_limit_is_413(make_server) -> None:
    server = make_server(max_upload_bytes=100_000)
    big = b"PK\x03\x04" + b"x" * 200_000
    with server.client() as c:
        # declared too large by Content-Length: refused before reading
        huge = b"PK\x03\x04" + b"x" * 400_000
        response = c.post("/api/backup/restore", files={"file": ("b.zip", huge, "application/zip")})
        assert response.status_code == 413
        assert response.json() == {"detail": "Upload exceeds the limit of 100000 bytes"}

        # chunked (no Content-Length): counted while streaming
        boundary = "testboundary"

        def body():
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.zip"\r\n'
                f"Content-Type: application/zip\r\n\r\n".encode()
            )
            for i in range(0, len(big), 10_000):
                yield big[i : i + 10_000]
            yield f"\r\n--{boundary}--\r\n".encode()

        response = c.post(
            "/api/backup/restore", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert response.status_code == 413
        # within the limit (but within 64 KiB multipart slack it is counted, not declared)
        ok_size = b"PK\x03\x04" + b"x" * 99_000
        response = c.post("/api/backup/restore", files={"file": ("b.zip", ok_size, "application/zip")})
        assert response.status_code == 400  # accepted in size, then refused as not a ZIP
        uploads = server.services.uploads_dir
        assert not uploads.exists() or not list(uploads.iterdir())
        assert c.post("/api/backup").status_code == 202


def test_restore_of_corrupted_archive_fails_with_reason(
    client: httpx.Client, db: psycopg.Connection, tmp_path: Path
) -> None:
    fill_app_data(db, events=30)
    job_id, seen = run_backup(client)
    original = Path(seen[-1]["file_path"])
    # same manifest, one member altered: a ZIP with a readable manifest, so 202, then the job fails
    corrupted = tmp_path / "corrupted.zip"
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(corrupted, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "settings.jsonl":
                data = data.replace(b"dark", b"lite")
            dst.writestr(info.filename, data)
    before = table_fingerprint(db)
    needs_restore_engine()
    response = client.post("/api/backup/restore", files={"file": ("c.zip", corrupted.read_bytes(), "application/zip")})
    assert response.status_code == 202
    restore_id = response.json()["job_id"]
    result = poll(client, f"/api/backup/restore/{restore_id}", until=finished)[-1]
    assert result["status"] == "failed"
    assert result["error_message"].startswith("Checksum mismatch for settings")
    assert result["items_restored"] is None and result["backup_id"] == job_id
    assert table_fingerprint(db) == before


# ------------------------------------------------------------------------------------------
# API key


def test_api_key_rules(make_server) -> None:
    server = make_server(api_key="s3cret-kéy")
    with server.client() as c:
        assert c.get("/api/health").status_code == 200
        for method, url in (
            ("GET", "/api/backup"),
            ("POST", "/api/backup"),
            ("GET", f"/api/backup/{uuid.uuid4()}"),
            ("GET", "/api/export/events"),
            ("POST", "/api/backup/restore"),
            ("GET", "/api/no-such-route"),
        ):
            response = c.request(method, url)
            assert response.status_code == 401, (method, url)
            assert response.json() == {"detail": "Invalid or missing API key"}
            assert c.request(method, url, headers={"X-API-Key": "wrong"}).status_code == 401
        good = {"X-API-Key": "s3cret-kéy".encode()}
        assert c.get("/api/backup", headers=good).status_code == 200
        assert c.get("/docs").status_code == 200
        spec = c.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
        assert "security" not in spec["paths"]["/api/health"]["get"]
        assert "security" in spec["paths"]["/api/backup"]["get"]


# ------------------------------------------------------------------------------------------
# OpenAPI matches the API design


SEED_FIELDS = {
    "BackupJobStartResponse": {"job_id", "status", "message"},
    "BackupJobProgress": {"total_tables", "completed_tables", "progress_percent", "current_step"},
    "BackupJobResponse": {
        "id",
        "status",
        "progress",
        "created_at",
        "started_at",
        "completed_at",
        "file_path",
        "file_size_bytes",
        "manifest",
        "error_message",
    },
    "BackupManifest": {"backup_id", "version", "created_at", "app_version", "contents"},
    "BackupContentInfo": {"count", "checksum"},
    "BackupListItem": {"id", "created_at", "file_size_bytes", "status", "download_url"},
    "BackupListResponse": {"backups", "total"},
    "RestoreJobStartResponse": {"job_id", "status", "message"},
    "RestoreJobProgress": {"total_tables", "completed_tables", "progress_percent", "current_step"},
    "RestoreJobResponse": {
        "id",
        "status",
        "progress",
        "backup_id",
        "backup_created_at",
        "created_at",
        "started_at",
        "completed_at",
        "items_restored",
        "error_message",
    },
}
# Fields backupd adds to the API design's shapes (docs/rest-api.md: added, never changing an API design field's meaning).
ADDED_FIELDS = {
    "BackupJobResponse": {"trigger", "pinned", "encrypted", "warnings", "reuse"},
    "BackupListItem": {"trigger", "pinned", "encrypted", "reuse"},
    "RestoreJobResponse": {"dry_run", "tables", "safety_backup_id", "changes"},
}
SEED_ENDPOINTS = {
    ("/api/backup", "post"): ("202", "BackupJobStartResponse"),
    ("/api/backup", "get"): ("200", "BackupListResponse"),
    ("/api/backup/{job_id}", "get"): ("200", "BackupJobResponse"),
    ("/api/backup/{job_id}/download", "get"): ("200", None),
    ("/api/backup/{job_id}", "delete"): ("200", "BackupDeleteResponse"),
    ("/api/backup/restore", "post"): ("202", "RestoreJobStartResponse"),
    ("/api/backup/restore/{job_id}", "get"): ("200", "RestoreJobResponse"),
}


def test_openapi_matches_the_seed(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name, fields in SEED_FIELDS.items():
        assert set(schemas[name]["properties"]) == fields | ADDED_FIELDS.get(name, set()), name
    assert schemas["BackupJobStatus"]["enum"] == ["pending", "running", "completed", "failed"]
    assert schemas["RestoreJobStatus"]["enum"] == ["pending", "validating", "restoring", "completed", "failed"]
    assert set(schemas["BackupDeleteResponse"]["properties"]) == {"deleted"}
    progress = schemas["BackupJobProgress"]["properties"]
    assert progress["total_tables"]["default"] == 8 and progress["progress_percent"]["maximum"] == 100
    assert schemas["BackupJobStartResponse"]["example"]["status"] == "pending"
    for (path, method), (code, model) in SEED_ENDPOINTS.items():
        operation = spec["paths"][path][method]
        assert "backup" in operation["tags"]
        response = operation["responses"][code]
        if model is None:
            assert "application/zip" in response["content"]
        else:
            assert response["content"]["application/json"]["schema"]["$ref"] == f"#/components/schemas/{model}"
    upload = spec["paths"]["/api/backup/restore"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["required"] == ["file"]
    assert spec["paths"]["/api/export/events"]["get"]["responses"]["200"]["content"]["application/x-ndjson"]
    assert client.get("/docs").status_code == 200


# ------------------------------------------------------------------------------------------
# Web UI


def test_web_ui_served_without_shadowing_the_api(make_server, tmp_path: Path, monkeypatch) -> None:
    web = tmp_path / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>backupd</title>")
    (web / "assets" / "app.js").write_text("console.log(1)")
    (web / "favicon.svg").write_text("<svg/>")
    monkeypatch.setattr("backupd.api.app.WEB_DIR", web)
    server = make_server()
    with server.client() as c:
        assert c.get("/").text.startswith("<!doctype html>")
        assert c.get("/assets/app.js").text == "console.log(1)"
        assert c.get("/favicon.svg").status_code == 200
        assert c.get("/api/health").json()["status"] == "ok"
        assert c.get("/api").status_code == 404
        assert c.get("/docs").status_code == 200 and "swagger" in c.get("/docs").text.lower()
        assert c.get("/openapi.json").json()["info"]["title"] == "backupd"
        assert c.get("/../etc/passwd").status_code == 404


# ------------------------------------------------------------------------------------------
# backupd serve


def test_cli_serve_migrates_then_serves(pg_server_url: str, tmp_path: Path) -> None:
    """`backupd serve` on a database that was never migrated: it migrates, then answers."""
    from tests.support.database import create_database, drop_database, url_for_database

    name = create_database(pg_server_url, template="template0")
    url = url_for_database(pg_server_url, name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUPD_")}
    env.update(BACKUPD_DATA_DIR=str(tmp_path / "data"), BACKUPD_DATABASE_URL=url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "backupd", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/api/backup").json() == {"backups": [], "total": 0}
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
        drop_database(pg_server_url, name)
    assert "applied migrations" in output
