"""POST /api/notify/test, BACKUPD_PING_URL after scheduled backups, missed scheduled times, and secrets that
never show (docs/operations.md), with real receivers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from backupd import DEFAULT_TABLES
from tests.support.api import ApiServer, fill_app_data, run_backup
from tests.support.receivers import HttpReceiver
from tests.support.schedule import manual, wait_idle

SECRET = "pw-Zq81xSecret"
TOKEN = "tok9Gk2PingSecret"
EXTRA = "notify_extra"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.stop()


def test_notify_test_is_202_with_targets_and_400_without(
    make_server: Callable[..., ApiServer], receiver: HttpReceiver
) -> None:
    bare = make_server()
    with bare.client() as client:
        response = client.post("/api/notify/test")
        assert response.status_code == 400
        assert response.json() == {
            "detail": "No notification target configured: set BACKUPD_NOTIFY to one or more Apprise URLs"
        }
    server = make_server(notify=f"json://u:{SECRET}@{receiver.base}/a, json://{receiver.base}/b")
    with server.client() as client:
        response = client.post("/api/notify/test")
        assert response.status_code == 202, response.text
        assert response.json() == {"queued": 2}
        got = receiver.wait_for(2)
        assert sorted(r.path for r in got) == ["/a", "/b"]
        assert {r.body["title"] for r in got} == {"backupd: test notification"}
        # The receiver has the messages a moment before the notifier records them delivered.
        deadline = time.monotonic() + 30
        while (status := client.get("/api/status").json()["notify"])["undelivered"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status == {
            "configured": True,
            "targets": ["#1 json://127.0.0.1…", "#2 json://127.0.0.1…"],
            "ping_configured": False,
            "last_error": None,
            "undelivered": 0,
        }


def test_ping_after_scheduled_backups_and_missed_times_notify(
    make_server: Callable[..., ApiServer], db: psycopg.Connection, receiver: HttpReceiver
) -> None:
    fill_app_data(db, 30)
    server = make_server(
        schedule="0 2 * * *",
        tables=(*DEFAULT_TABLES, EXTRA),
        notify=f"json://{receiver.base}/notify",
        ping_url=f"http://{receiver.base}/ping/{TOKEN}?src=backupd",
    )
    clock = manual(server, "2026-03-01T01:00:00Z")
    scheduler = server.services.scheduler
    assert scheduler.tick() == []
    clock.set("2026-03-01T02:00:30Z")
    [failed_id] = scheduler.tick()  # EXTRA is missing: fails
    wait_idle(server)
    db.execute(f"CREATE TABLE {EXTRA} (id int PRIMARY KEY)")
    clock.set("2026-03-02T02:00:30Z")
    [ok_id] = scheduler.tick()
    wait_idle(server)
    pings = receiver.wait_for(2, method="GET")
    assert [p.path for p in pings] == [f"/ping/{TOKEN}/fail?src=backupd", f"/ping/{TOKEN}?src=backupd"]
    with server.client() as client:  # a manual backup: no ping
        run_backup(client)
        wait_idle(server)

    clock.set("2026-03-05T02:30:00Z")  # nobody looked for three days: 03-03 and 03-04 passed unseen
    scheduler._seen_until = None  # as after a restart
    assert len(scheduler.tick()) == 1  # the catch-up backup
    wait_idle(server)
    posts = receiver.wait_for(3, method="POST")
    by_title = {p.body["title"]: p.body["message"] for p in posts}
    assert failed_id in by_title["backupd: backup failed"]
    assert by_title["backupd: backup failed"].startswith(f"Scheduled backup {failed_id} failed at ")
    assert ok_id in by_title["backupd: backup works again"]
    assert by_title["backupd: scheduled backup did not start"] == (
        "The scheduled backups for 2026-03-03T02:00:00+00:00, 2026-03-04T02:00:00+00:00 did not start:"
        " no replica was running; the backup for 2026-03-05T02:00:00+00:00 stands for them"
    )
    receiver.wait_for(3, method="GET")
    assert len(receiver.requests("GET")) == 3  # the catch-up backup pinged; the manual one did not
    assert len(receiver.requests("POST")) == 3


def test_no_secret_in_logs_responses_rows_or_page(
    make_server: Callable[..., ApiServer],
    db: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    down = HttpReceiver()  # never started: every delivery fails and its reason is kept
    server = make_server(
        notify=f"json://hook:{SECRET}@{down.base}/x/{TOKEN}, mailto://mailer:{SECRET}@127.0.0.1:1?from=backupd@example.com&to=a@example.com",
        ping_url=f"http://{down.base}/ping/{TOKEN}",
        tables=(*DEFAULT_TABLES, EXTRA),
    )
    server.services.notifier.poll_seconds = 0.2
    server.services.notifier.retry_base = 0.2
    texts: list[str] = []
    with server.client() as client:
        run_backup(client)
        assert client.post("/api/notify/test").status_code == 202
        deadline = time.monotonic() + 30
        while db.execute("SELECT count(*) FROM backupd.notifications WHERE attempts >= 2").fetchone()[0] < 4:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for path in ("/api/status", "/metrics", "/api/backup", "/api/schedule", "/openapi.json", "/", "/api/health"):
            texts.append(client.get(path).text)
        status = client.get("/api/status").json()
        assert status["notify"]["last_error"].startswith(("#1 json://127.0.0.1…: ", "#2 mailto://127.0.0.1…: "))
        texts.append(repr(server.settings))
    rows = db.execute("SELECT n::text FROM backupd.notifications n").fetchall()
    texts += [r[0] for r in rows]
    # pytest hooks its handler onto non-propagating loggers too; apprise's (requests and payloads at DEBUG)
    # stays out of the service's log (backupd.notify.targets), so only what a service log shows is scanned.
    texts += [r.getMessage() for r in caplog.records if r.name != "apprise"]
    assert any("not delivered" in t for t in texts)
    for text in texts:
        assert SECRET not in text and TOKEN not in text, text
