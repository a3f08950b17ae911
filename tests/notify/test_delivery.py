"""Notifications through Apprise to a real json:// receiver (docs/operations.md): failure, recovery, retries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime

import psycopg
import pytest

from backupd import DEFAULT_TABLES
from tests.support.api import ApiServer, fill_app_data, run_backup
from tests.support.receivers import HttpReceiver, free_port

SECRET = "pw-Zq81xSecret"
EXTRA = "notify_extra"  # in the table set but missing: backups fail until it is created


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.stop()


def json_url(receiver_port: int) -> str:
    return f"json://hook:{SECRET}@127.0.0.1:{receiver_port}/notify"


def finished_at(db: psycopg.Connection, job_id: str) -> datetime:
    row = db.execute("SELECT completed_at FROM backupd.backup_jobs WHERE id = %s", [job_id]).fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


def test_failure_then_recovery_notify_once_each(
    make_server: Callable[..., ApiServer], db: psycopg.Connection, receiver: HttpReceiver
) -> None:
    fill_app_data(db, 50)
    server = make_server(notify=json_url(receiver.port), tables=(*DEFAULT_TABLES, EXTRA))
    with server.client() as client:
        failed_id, bodies = run_backup(client)
        assert bodies[-1]["status"] == "failed"
        first = receiver.wait_for(1)[0]
        lag = first.at - finished_at(db, failed_id).timestamp()
        print(f"failure -> notification: {lag * 1000:.0f} ms")
        assert first.method == "POST" and first.path == "/notify"
        assert first.body["title"] == "backupd: backup failed"
        assert failed_id in first.body["message"] and EXTRA in first.body["message"]
        assert lag < 5

        db.execute(f"CREATE TABLE {EXTRA} (id int PRIMARY KEY)")
        ok_id, bodies = run_backup(client)
        assert bodies[-1]["status"] == "completed"
        second = receiver.wait_for(2)[1]
        assert second.body["title"] == "backupd: backup works again"
        assert ok_id in second.body["message"]

        run_backup(client)  # a success after a success: nothing to tell
        time.sleep(1.5)
        assert len(receiver.requests()) == 2
    rows = db.execute(
        "SELECT key, target, attempts, delivered_at IS NOT NULL FROM backupd.notifications ORDER BY created_at"
    ).fetchall()
    assert rows == [(f"backup_failed:{failed_id}", "1:json", 1, True), (f"backup_recovered:{ok_id}", "1:json", 1, True)]


def test_receiver_down_then_up_is_delivered_once_and_never_delays_the_job(
    make_server: Callable[..., ApiServer], db: psycopg.Connection
) -> None:
    port = free_port()  # nothing listens here yet
    server = make_server(notify=json_url(port), tables=(*DEFAULT_TABLES, EXTRA))
    server.services.notifier.poll_seconds = 0.2
    server.services.notifier.retry_base = 0.5
    with server.client() as client:
        started = time.monotonic()
        failed_id, bodies = run_backup(client)
        assert bodies[-1]["status"] == "failed"
        assert time.monotonic() - started < 10
        deadline = time.monotonic() + 20
        while True:  # tried at least twice against the closed port, the reason kept without the secret
            row = db.execute("SELECT attempts, last_error FROM backupd.notifications").fetchone()
            if row and row[0] >= 2 and row[1]:
                break
            assert time.monotonic() < deadline, row
            time.sleep(0.05)
        assert row[1].startswith("#1 json://127.0.0.1…: "), row[1]
        assert "Connection refused" in row[1]
        assert SECRET not in row[1]
        status = client.get("/api/status").json()
        assert status["notify"] == {
            "configured": True,
            "targets": ["#1 json://127.0.0.1…"],
            "ping_configured": False,
            "last_error": row[1],
            "undelivered": 1,
        }

        receiver = HttpReceiver(port=port).start()
        try:
            got = receiver.wait_for(1, timeout=30)
            assert failed_id in got[0].body["message"]
            time.sleep(2)
            assert len(receiver.requests()) == 1
        finally:
            receiver.stop()
        assert client.get("/api/status").json()["notify"]["last_error"] is None
    delivered = db.execute("SELECT count(*) FROM backupd.notifications WHERE delivered_at IS NOT NULL").fetchone()
    assert delivered == (1,)
