"""The job store, progress writes, runner outcome and start-up recovery, on a real PostgreSQL."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest

from backupd.db.locks import try_operation_lock
from backupd.db.pool import ConnectionPool
from backupd.errors import ArchiveError, one_line
from backupd.jobs import (
    INTERRUPTED_MESSAGE,
    JobRecords,
    ProgressWriter,
    recover_interrupted_jobs,
)
from backupd.progress import Progress
from backupd.store.directory import DirectoryStore


@pytest.fixture
def store(database_url: str):
    pool = ConnectionPool(database_url)
    yield JobRecords(pool)
    pool.close()


def _row(db: psycopg.Connection, table: str, job_id: str) -> tuple:
    return db.execute(
        f"SELECT status::text, progress_percent, completed_tables, total_tables, current_step"
        f" FROM {table} WHERE id = %s",
        [job_id],
    ).fetchone()


def test_progress_never_decreases_and_stays_below_100(store: JobRecords, db: psycopg.Connection) -> None:
    job_id = str(uuid.uuid4())
    store.create_backup_job(job_id, 8)
    store.mark_started("backup", job_id, "running")
    store.update_progress(
        "backup", job_id, status="running", percent=40, completed_tables=3, total_tables=8, step="Exporting events"
    )
    store.update_progress(
        "backup", job_id, status="running", percent=20, completed_tables=1, total_tables=8, step="Exporting alerts"
    )
    assert _row(db, "backupd.backup_jobs", job_id) == ("running", 40, 3, 8, "Exporting alerts")
    store.update_progress("backup", job_id, status="running", percent=100, completed_tables=8, total_tables=8, step="x")
    assert _row(db, "backupd.backup_jobs", job_id)[1] == 99  # 100 only when completed
    store.complete_backup(job_id, file_path="/x.zip", size_bytes=5, manifest={"backup_id": job_id})
    assert _row(db, "backupd.backup_jobs", job_id)[:3] == ("completed", 100, 8)
    # a finished job is never touched again
    store.fail("backup", job_id, "late failure")
    store.update_progress("backup", job_id, status="running", percent=1, completed_tables=0, total_tables=8, step="y")
    assert _row(db, "backupd.backup_jobs", job_id)[:2] == ("completed", 100)


def test_restore_status_only_moves_forward(store: JobRecords, db: psycopg.Connection) -> None:
    job_id = str(uuid.uuid4())
    store.create_restore_job(job_id, 8, "b" * 100, None)
    assert db.execute("SELECT backup_id FROM backupd.restore_jobs").fetchone()[0] == "b" * 64
    store.mark_started("restore", job_id, "validating")
    store.update_progress(
        "restore", job_id, status="restoring", percent=50, completed_tables=4, total_tables=8, step="Loading events"
    )
    store.update_progress(
        "restore", job_id, status="validating", percent=60, completed_tables=4, total_tables=8, step="Loading alerts"
    )
    assert _row(db, "backupd.restore_jobs", job_id)[:2] == ("restoring", 60)
    store.fail("restore", job_id, "Checksum mismatch for events: expected a, got b")
    status, message = db.execute("SELECT status::text, error_message FROM backupd.restore_jobs").fetchone()
    assert status == "failed" and message.startswith("Checksum mismatch")


def test_progress_writer_throttles(store: JobRecords, db: psycopg.Connection, monkeypatch) -> None:
    job_id = str(uuid.uuid4())
    store.create_backup_job(job_id, 2)
    store.mark_started("backup", job_id, "running")
    writes: list[int] = []
    original = store.update_progress
    monkeypatch.setattr(store, "update_progress", lambda *a, **k: (writes.append(k["percent"]), original(*a, **k)))
    writer = ProgressWriter(store, "backup", job_id, {"running": "running"})
    for pct in range(0, 50):
        writer(Progress("running", pct, "Exporting events", 0, 2))  # 50 reports in a few ms
    writer(Progress("running", 50, "Exporting alerts", 1, 2))  # a new step is always written
    writer(Progress("completed", 100, "Backup complete", 2, 2))  # the engine's finish: the runner's job
    assert writes == [0, 50]
    assert _row(db, "backupd.backup_jobs", job_id) == ("running", 50, 1, 2, "Exporting alerts")
    time.sleep(0.3)
    writer(Progress("running", 60, "Exporting alerts", 1, 2))
    assert writes == [0, 50, 60]


def test_error_messages_are_one_line() -> None:
    assert (
        one_line(ArchiveError("Unsupported backup version: 2.0. Expected: 1.0"))
        == "Unsupported backup version: 2.0. Expected: 1.0"
    )
    assert one_line(RuntimeError("boom\n  detail")) == "RuntimeError: boom"
    assert one_line(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert one_line(OSError(28, "No space left on device", "/data/x.zip")) == "No space left on device: /data/x.zip"
    assert (
        one_line(psycopg.errors.DeadlockDetected("deadlock detected\nDETAIL: Process 1 waits"))
        == "database error: deadlock detected"
    )


def test_pool_replaces_broken_connections(database_url: str, pg_server_url: str) -> None:
    pool = ConnectionPool(database_url)
    store = JobRecords(pool)
    assert store.get("backup", str(uuid.uuid4())) is None
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'backupd-jobs'")
    time.sleep(0.1)
    with pytest.raises(psycopg.OperationalError):
        store.get("backup", str(uuid.uuid4()))  # the dead connection fails once, and is dropped
    assert store.get("backup", str(uuid.uuid4())) is None
    assert store.get("backup", "not-a-uuid") is None
    pool.close()


def test_pool_opens_lazily_and_says_why_it_cannot_connect(database_url: str) -> None:
    """Creating a pool never waits on the database; a caller waits `timeout` at most and then learns
    why the pool could not connect, in one line (the API answers it as 503, test_api.py)."""
    from psycopg.conninfo import make_conninfo

    from backupd.db.pool import PoolTimeout

    started = time.monotonic()
    pool = ConnectionPool(make_conninfo(database_url, dbname="backupd_no_such_database"), timeout=2.0)
    assert time.monotonic() - started < 1  # nothing was opened yet
    try:
        with pytest.raises(PoolTimeout) as caught, pool.connection():
            pass
        assert time.monotonic() - started < 10
        message = str(caught.value)
        assert message.startswith("cannot connect to the database: ") and "\n" not in message, message
        assert "backupd_no_such_database" in message and message.endswith("(no connection within 2 s)")
        assert one_line(caught.value).startswith("database error: cannot connect to the database: ")
    finally:
        pool.close()


def test_pool_waits_for_a_free_connection_then_times_out(database_url: str) -> None:
    pool = ConnectionPool(database_url, max_size=1, timeout=0.2)
    try:
        with pool.connection() as held:
            with (
                pytest.raises(psycopg.OperationalError, match=r"couldn't get a connection after 0\.20 sec"),
                pool.connection(),
            ):
                pass
            assert held.execute("SELECT current_setting('application_name')").fetchone() == ("backupd-jobs",)
        with pool.connection() as conn:  # given back: the same session again
            assert conn is held and conn.autocommit
            assert conn.execute("SHOW DateStyle").fetchone() == ("ISO, YMD",)
    finally:
        pool.close()


# ------------------------------------------------------------------------------------------
# Start-up recovery


def _interrupted_jobs(db: psycopg.Connection, backup_dir: Path, uploads: Path) -> dict[str, object]:
    """Rows and files as a process killed mid-backup and mid-restore leaves them."""
    backup_id, pending_id, restore_id = (str(uuid.uuid4()) for _ in range(3))
    uploads.mkdir(parents=True)
    backup_dir.mkdir(parents=True, exist_ok=True)
    final = backup_dir / f"backupd-20261126T000000Z-{backup_id}.zip"
    partial = backup_dir / f".{final.name}.4242.partial"
    partial.write_bytes(b"PK\x03\x04 half an archive")
    upload = uploads / f"{restore_id}.zip"
    upload.write_bytes(b"PK\x03\x04 uploaded")
    upload_partial = uploads / f".upload-{uuid.uuid4()}.partial"
    upload_partial.write_bytes(b"PK")
    keep = backup_dir / "completed.zip"
    keep.write_bytes(b"PK\x05\x06")
    db.execute(
        "INSERT INTO backupd.backup_jobs (id, status, started_at, progress_percent, file_path)"
        " VALUES (%s, 'running', now(), 42, %s)",
        [backup_id, str(final)],
    )
    db.execute("INSERT INTO backupd.backup_jobs (id, status) VALUES (%s, 'pending')", [pending_id])
    db.execute(
        "INSERT INTO backupd.backup_jobs (id, status, file_path, file_size_bytes, progress_percent)"
        " VALUES (%s, 'completed', %s, 4, 100)",
        [str(uuid.uuid4()), str(keep)],
    )
    db.execute(
        "INSERT INTO backupd.restore_jobs (id, status, started_at) VALUES (%s, 'restoring', now())", [restore_id]
    )
    return {"ids": [backup_id, pending_id, restore_id], "gone": [partial, upload, upload_partial], "kept": keep}


def test_restart_marks_interrupted_jobs_failed_and_removes_partial_files(
    make_server, db: psycopg.Connection, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backups"
    state = _interrupted_jobs(db, backup_dir, tmp_path / "data" / "uploads")
    server = make_server(backup_dir=backup_dir, data_dir=tmp_path / "data")
    backup_id, pending_id, restore_id = state["ids"]
    with server.client() as c:
        for job_id in (backup_id, pending_id):
            job = c.get(f"/api/backup/{job_id}").json()
            assert job["status"] == "failed" and job["error_message"] == INTERRUPTED_MESSAGE
            assert job["completed_at"] is not None
        assert c.get(f"/api/backup/{backup_id}").json()["progress"]["progress_percent"] == 42
        restore = c.get(f"/api/backup/restore/{restore_id}").json()
        assert restore["status"] == "failed" and restore["error_message"] == INTERRUPTED_MESSAGE
        assert c.get("/api/backup").json()["total"] == 1
        assert c.post("/api/backup").status_code == 202  # the recovery released the lock
    for path in state["gone"]:
        assert not path.exists(), path
    assert state["kept"].exists()


def test_recovery_leaves_jobs_of_a_live_process_alone(
    store: JobRecords, db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    """A job whose process still runs (it holds the job's lock) is left alone; the others are failed,
    and nothing on disk is touched while any job runs anywhere."""
    uploads = tmp_path / "data" / "uploads"
    state = _interrupted_jobs(db, tmp_path / "backups", uploads)
    backup_id, pending_id, restore_id = state["ids"]
    archives = DirectoryStore(tmp_path / "backups")
    lock = try_operation_lock(database_url)  # another backupd process is running backup_id
    lock.hold_job(backup_id)
    try:
        recovery = recover_interrupted_jobs(store, database_url, archives, uploads)
    finally:
        lock.close()
    assert recovery.skipped and sorted(recovery.failed_jobs) == sorted([pending_id, restore_id])
    assert db.execute("SELECT id::text FROM backupd.backup_jobs WHERE status IN ('running', 'pending')").fetchall() == [
        (backup_id,)
    ]
    assert all(p.exists() for p in state["gone"])
    recovery = recover_interrupted_jobs(store, database_url, archives, uploads)
    assert not recovery.skipped and recovery.failed_jobs == [backup_id]
    assert not any(p.exists() for p in state["gone"])
