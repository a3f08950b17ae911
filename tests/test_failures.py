"""Whatever fails — a database error, a lost connection, a full disk — users get one line, never a traceback.

CLI: `backupd: error: …` and a non-zero exit (the traceback only with --debug / BACKUPD_DEBUG=1).
API: the job ends `failed` with a one-line `error_message`; a handler failure is a JSON `detail`.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.api import ApiServer, fill_app_data, poll


def run_cli(args: list[str], url: str, preexec=None, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "BACKUPD_DATABASE_URL": url, **env}
    full_env.pop("BACKUPD_DEBUG", None)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "backupd", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        preexec_fn=preexec,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], starts: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"backupd: error: {starts}"), proc.stderr


@pytest.fixture
def restricted_url(database_url: str, db: psycopg.Connection) -> str:
    """The same database through a role that may connect but not read the application tables."""
    role = "backupd_norights_" + conninfo_to_dict(database_url)["dbname"][-12:]
    db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    params = conninfo_to_dict(database_url)
    params["user"] = role
    params.pop("password", None)
    yield make_conninfo(**params)
    db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_database_error_is_one_line(restricted_url: str, tmp_path: Path) -> None:
    out = tmp_path / "denied.zip"
    proc = run_cli(["backup", "-o", str(out)], restricted_url)
    assert_one_line_error(proc, "database error: permission denied for table")
    assert list(tmp_path.iterdir()) == []


def test_debug_prints_the_traceback(restricted_url: str, tmp_path: Path) -> None:
    proc = run_cli(["--debug", "backup", "-o", str(tmp_path / "x.zip")], restricted_url)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("backupd: error: database error: permission denied")
    proc = run_cli(["backup", "-o", str(tmp_path / "x.zip")], restricted_url, BACKUPD_DEBUG="1")
    assert "Traceback (most recent call last)" in proc.stderr


def test_lost_connection_is_one_line(database_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    """The backup waits for a lock; its connection is terminated meanwhile (a server restart, say)."""
    out = tmp_path / "lost.zip"
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE settings IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [sys.executable, "-m", "backupd", "backup", "-o", str(out)],
            env={**os.environ, "BACKUPD_DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            killed = db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'backupd-backup' AND wait_event_type = 'Lock'"
            ).fetchall()
            if killed:
                break
            assert time.monotonic() < deadline, "the backup never waited for the lock"
            time.sleep(0.05)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.startswith("backupd: error: database error:"), stderr
    assert list(tmp_path.iterdir()) == []


def _tiny_file_limit() -> None:
    """A file size limit makes writes fail like a full disk does (EFBIG instead of ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_full_disk_is_one_line_and_leaves_no_file(database_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    fill_app_data(db, events=3000)
    out = tmp_path / "full.zip"
    proc = run_cli(["backup", "-o", str(out)], database_url, preexec=_tiny_file_limit)
    assert_one_line_error(proc, "File too large")
    assert list(tmp_path.iterdir()) == []


def test_api_job_failure_is_a_one_line_error_message(make_server, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the backup directory should be")
    server: ApiServer = make_server(backup_dir=blocker)
    with server.client() as c:
        start = c.post("/api/backup")
        assert start.status_code == 202
        job = poll(c, f"/api/backup/{start.json()['job_id']}", until=lambda b: b["status"] in ("completed", "failed"))[
            -1
        ]
        assert job["status"] == "failed"
        assert job["error_message"] == f"File exists: {blocker}"


def test_api_handler_failure_is_json_not_a_trace(make_server, db: psycopg.Connection) -> None:
    server: ApiServer = make_server()
    db.execute(
        "ALTER TABLE backupd.backup_jobs RENAME COLUMN status TO status_gone"
    )  # a broken schema: a bug's stand-in
    try:
        with server.client() as c:
            response = c.get("/api/backup")
    finally:
        db.execute("ALTER TABLE backupd.backup_jobs RENAME COLUMN status_gone TO status")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": 'Internal error: database error: column "status" does not exist'}
