"""Two real `backupd serve` replicas on one database: each event notifies exactly once (docs/operations.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from backupd import DEFAULT_TABLES
from tests.support.api import fill_app_data, poll
from tests.support.receivers import HttpReceiver, free_port
from tests.support.replica import Replica

SECRET = "pw-Replica7Secret"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def start_replica(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Replica]]:
    started: list[Replica] = []

    def start(name: str, **env: str) -> Replica:
        base = {
            "BACKUPD_DATABASE_URL": database_url,
            "BACKUPD_STORE": str(tmp_path / "store"),
            "BACKUPD_SCHEDULE": "off",
        }
        replica = Replica({**base, **env}, tmp_path / name)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


def titles(receiver: HttpReceiver) -> list[str]:
    return [r.body["title"] for r in receiver.requests("POST") if r.path == "/hook"]


def test_two_replicas_notify_each_event_once(
    start_replica: Callable[..., Replica], receiver: HttpReceiver, db: psycopg.Connection, tmp_path: Path
) -> None:
    fill_app_data(db, 40)
    down = free_port()  # a second target that never answers: retried by both replicas, its secret never shown
    env = {
        "BACKUPD_NOTIFY": f"json://{receiver.base}/hook,json://user:{SECRET}@127.0.0.1:{down}/down",
        "BACKUPD_STALE_AFTER": "3s",
        "BACKUPD_TABLES": ",".join((*DEFAULT_TABLES, "replica_extra")),
    }
    a, b = start_replica("a", **env), start_replica("b", **env)

    # No backup since installation (the template database was migrated before this test): stale, told once.
    receiver.wait_for(1, method="POST")
    time.sleep(3)
    assert titles(receiver) == ["backupd: no recent backup"]

    # A failed backup on replica a, the fix, a completed one on replica b: one notification each.
    response = a.client.post("/api/backup")
    assert response.status_code == 202
    failed_id = response.json()["job_id"]
    poll(a.client, f"/api/backup/{failed_id}", until=lambda body: body["status"] == "failed")
    db.execute("CREATE TABLE replica_extra (id int PRIMARY KEY)")
    response = b.client.post("/api/backup")
    assert response.status_code == 202
    ok_id = response.json()["job_id"]
    poll(b.client, f"/api/backup/{ok_id}", until=lambda body: body["status"] == "completed")

    # Fresh now; 3 s later stale again, since that backup: a new event, told once.
    deadline = time.monotonic() + 30
    while titles(receiver).count("backupd: no recent backup") < 2:
        assert time.monotonic() < deadline, titles(receiver)
        time.sleep(0.1)
    time.sleep(3)
    got = titles(receiver)
    assert sorted(got) == sorted(
        [
            "backupd: no recent backup",
            "backupd: backup failed",
            "backupd: backup works again",
            "backupd: no recent backup",
        ]
    ), got
    keys = [
        r[0] for r in db.execute("SELECT key FROM backupd.notifications WHERE target = '1:json' ORDER BY created_at")
    ]
    assert keys[1:3] == [f"backup_failed:{failed_id}", f"backup_recovered:{ok_id}"]
    assert keys[0].startswith("stale:") and keys[3].startswith("stale:") and keys[0] != keys[3]

    # Both replicas answer the same, and no answer nor log names the secret.
    status_a, status_b = a.client.get("/api/status").json(), b.client.get("/api/status").json()
    same = [{k: v for k, v in s["last_backup"].items() if k != "age_seconds"} for s in (status_a, status_b)]
    assert same[0] == same[1] and same[0]["id"] == ok_id
    assert status_a["notify"]["targets"] == ["#1 json://127.0.0.1…", "#2 json://127.0.0.1…"]
    texts = [a.client.get(p).text + b.client.get(p).text for p in ("/api/status", "/metrics", "/", "/openapi.json")]
    a.stop()
    b.stop()
    logs = [(tmp_path / name).with_suffix(".log").read_text() for name in ("a", "b")]
    assert any("not delivered" in log for log in logs), logs
    for text in texts + logs:
        assert SECRET not in text
