"""Restore drills as a service through real HTTP, into a real staging database (docs/operations.md)."""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from backupd import DEFAULT_TABLES
from backupd.drill import service as drills_module
from backupd.drill.service import (
    DRILL_BUSY,
    INTERRUPTED,
    NOT_CONFIGURED,
    SAME_DATABASE,
    is_same_database,
    try_drill_lock,
)
from backupd.ids import uuid7
from tests.support.api import fill_app_data, poll
from tests.support.schedule import backup, manual, wait_idle


def drill_done(body: dict[str, Any]) -> bool:
    return body["status"] in ("passed", "failed")


def start_drill(c: httpx.Client, backup_id: str) -> dict[str, Any]:
    response = c.post(f"/api/backup/{backup_id}/drill")
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"drill_id", "status"} and body["status"] == "pending"
    return poll(c, f"/api/drills/{body['drill_id']}", until=drill_done, interval=0.05)[-1]


def test_drill_passes_then_fails_on_a_tampered_archive(
    make_server, db: psycopg.Connection, empty_database_url: str
) -> None:
    fill_app_data(db, events=300)
    server = make_server(drill_database_url=empty_database_url)
    with server.client() as c:
        backup_id, seen = backup(server, c)
        counts = {k: v["count"] for k, v in seen[-1]["manifest"]["contents"].items()}

        passed = start_drill(c, backup_id)
        assert passed["status"] == "passed", passed
        assert passed["backup_id"] == backup_id and passed["trigger"] == "manual"
        assert passed["error_message"] is None and passed["started_at"] and passed["completed_at"]
        assert passed["tables"] == {
            t: {"expected_rows": counts[t], "restored_rows": counts[t], "checksum_match": True} for t in DEFAULT_TABLES
        }
        with psycopg.connect(empty_database_url) as staging:  # the data really is in the staging database
            assert staging.execute("SELECT count(*) FROM events").fetchone()[0] == 300

        # Change one row of events.jsonl in the stored archive (manifest untouched): the drill must fail.
        archive = Path(seen[-1]["file_path"])
        with zipfile.ZipFile(archive) as z:
            members = {i.filename: z.read(i) for i in z.infolist()}
        members["events.jsonl"] = members["events.jsonl"].replace(b'"risk_score":7,', b'"risk_score":8,', 1)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
                z.writestr(name, data)
        failed = start_drill(c, backup_id)
        assert failed["status"] == "failed", failed
        assert "events" in failed["error_message"] and "hecksum" in failed["error_message"], failed

        history = c.get("/api/drills").json()
        assert history["total"] == 2
        assert [d["id"] for d in history["drills"]] == [failed["id"], passed["id"]]  # newest first
        assert history["drills"][1] == passed
        assert c.get(f"/api/drills/{uuid.uuid4()}").status_code == 404
        assert c.get("/api/drills/nope").json() == {"detail": "Drill not found: nope"}


def test_drill_refusals(make_server, db: psycopg.Connection, database_url: str, empty_database_url: str) -> None:
    fill_app_data(db, events=10)
    unconfigured = make_server()
    with unconfigured.client() as c:
        backup_id, _ = backup(unconfigured, c)
        response = c.post(f"/api/backup/{backup_id}/drill")
        assert response.status_code == 400 and response.json() == {"detail": NOT_CONFIGURED}
        unknown = str(uuid.uuid4())
        response = c.post(f"/api/backup/{unknown}/drill")
        assert response.status_code == 404 and response.json() == {"detail": f"Backup job not found: {unknown}"}

    # The application database itself is refused, spelt the same or differently.
    for url in (database_url, make_conninfo(database_url, connect_timeout=7, application_name="spelt-differently")):
        same = make_server(drill_database_url=url)
        with same.client() as c:
            response = c.post(f"/api/backup/{backup_id}/drill")
            assert response.status_code == 400 and response.json() == {"detail": SAME_DATABASE}
            assert c.get("/api/drills").json() == {"drills": [], "total": 0}

    server = make_server(drill_database_url=empty_database_url)
    with server.client() as c:
        failed_id = uuid7()
        db.execute(
            "INSERT INTO backupd.backup_jobs (id, status, error_message) VALUES (%s, 'failed', 'boom')", [failed_id]
        )
        response = c.post(f"/api/backup/{failed_id}/drill")
        assert response.status_code == 400
        assert response.json() == {"detail": "Backup job is not complete (status: failed)"}

        holder = try_drill_lock(database_url)  # another replica is drilling
        try:
            response = c.post(f"/api/backup/{backup_id}/drill")
            assert response.status_code == 409 and response.json() == {"detail": DRILL_BUSY}
        finally:
            holder.close()


def test_same_database_is_recognised_whatever_the_url_says(
    database_url: str, empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drills_module, "_same_address", lambda a, b: False)  # only the live check remains
    assert is_same_database(database_url, database_url)
    assert not is_same_database(database_url, empty_database_url)
    assert not is_same_database(database_url, "postgresql://nobody@127.0.0.1:1/none")  # unreachable: not the same


def test_scheduled_drill_and_reaping(make_server, db: psycopg.Connection, empty_database_url: str) -> None:
    fill_app_data(db, events=30)
    server = make_server(drill_database_url=empty_database_url, drill_schedule="0 4 * * *")
    clock = manual(server, "2026-03-01T03:00:00Z")
    scheduler = server.services.scheduler
    with server.client() as c:
        assert scheduler.tick() == []
        older, _ = backup(server, c)
        newest, _ = backup(server, c)
        body = c.get("/api/schedule").json()
        assert body["drill_schedule"] == "0 4 * * *" and body["next_drill_at"] == "2026-03-01T04:00:00Z"
        assert body["drill_configured"] is True
        clock.set("2026-03-01T04:00:01Z")
        [drill_id] = scheduler.tick()
        assert scheduler.tick() == []  # once per time
        assert server.services.drills.wait(60)
        drill = c.get(f"/api/drills/{drill_id}").json()
        assert drill["status"] == "passed" and drill["trigger"] == "schedule" and drill["backup_id"] == newest

    # A drill whose process died (no job lock held) is marked failed by any replica.
    orphan = uuid7()
    db.execute("INSERT INTO backupd.drill_runs (id, backup_id, status) VALUES (%s, %s, 'running')", [orphan, older])
    assert server.services.drills.reap() == [orphan]
    with server.client() as c:
        body = c.get(f"/api/drills/{orphan}").json()
        assert body["status"] == "failed" and body["error_message"] == INTERRUPTED
    wait_idle(server)


def test_scheduled_drills_without_a_drill_database_start_nothing(
    make_server, db: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    fill_app_data(db, events=5)
    server = make_server(drill_schedule="0 4 * * *")
    clock = manual(server, "2026-03-01T03:00:00Z")
    with server.client() as c:
        backup(server, c)
        assert c.get("/api/schedule").json()["next_drill_at"] is None
    assert server.services.scheduler.tick() == []
    clock.set("2026-03-01T04:00:01Z")
    with caplog.at_level("WARNING", logger="backupd.scheduler"):
        assert server.services.scheduler.tick() == [] and server.services.scheduler.tick() == []
    assert [r.getMessage() for r in caplog.records] == [f"scheduled drills are skipped: {NOT_CONFIGURED}"]
    assert db.execute("SELECT count(*) FROM backupd.drill_runs").fetchone()[0] == 0
