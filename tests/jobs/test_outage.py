"""A database that goes away under a running job: the job fails with a message that says so and names
the server, never as if the data or the archive were at fault (docs/operations.md)."""

from __future__ import annotations

import time

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tests.support.api import fill_app_data, finished, poll


def test_a_backup_whose_session_is_killed_says_the_database_did_not_answer(
    make_server, db: psycopg.Connection, database_url: str
) -> None:
    fill_app_data(db, events=50)
    params = conninfo_to_dict(database_url)
    host = params.get("host") or "localhost"
    where = f"database {params['dbname']} on " + (
        "local socket" if host.startswith("/") else f"{host}:{params['port']}"
    )
    with make_server().client() as c, psycopg.connect(database_url) as blocker:
        blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")  # the backup waits on its snapshot lock
        response = c.post("/api/backup")
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 30
        while True:  # the backup's session, waiting for the lock: the server ends it
            killed = db.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'backupd-backup' AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if killed:
                break
            assert time.monotonic() < deadline, "the backup never waited for its lock"
            time.sleep(0.05)
        blocker.rollback()
        job = poll(c, f"/api/backup/{job_id}", until=finished)[-1]
    assert job["status"] == "failed"
    message = job["error_message"]
    assert message.startswith(f"{where}"), message
    assert " did not answer: terminating connection due to administrator command" in message
    assert "corrupt" not in message and "\n" not in message
