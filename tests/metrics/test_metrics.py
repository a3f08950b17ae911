"""GET /metrics and GET /api/status after known jobs: exact values, the same from every replica (docs/operations.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from backupd import DEFAULT_TABLES
from tests.support.api import ApiServer, fill_app_data, run_backup

EXTRA = "metrics_extra"  # in the table set but missing: backups fail until it is created


def samples(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def ts(value: datetime) -> float:
    return value.timestamp()


def test_metrics_are_exact_after_known_jobs_and_equal_on_every_replica(
    make_server: Callable[..., ApiServer], db: psycopg.Connection
) -> None:
    fill_app_data(db, 80)
    first = make_server(tables=(*DEFAULT_TABLES, EXTRA))
    second = make_server(tables=(*DEFAULT_TABLES, EXTRA))  # a replica: same database, same store
    with first.client() as a, second.client() as b:
        empty = samples(a)
        assert empty[("backupd_jobs_total", (("kind", "backup"), ("status", "completed")))] == 0
        assert ("backupd_last_success_timestamp_seconds", (("kind", "backup"),)) not in empty
        assert empty[("backupd_store_bytes", ())] == 0
        assert empty[("backupd_stale", ())] in (0, 1)

        failed_id, bodies = run_backup(a)
        assert bodies[-1]["status"] == "failed"
        db.execute(f"CREATE TABLE {EXTRA} (id int PRIMARY KEY)")
        run_backup(a)
        last_id, bodies = run_backup(b)
        assert bodies[-1]["status"] == "completed"

        got = samples(a)
        assert samples(b) == got
    failed_at = db.execute("SELECT completed_at FROM backupd.backup_jobs WHERE id = %s", [failed_id]).fetchone()[0]
    last = db.execute(
        "SELECT completed_at, file_size_bytes, extract(epoch FROM completed_at - started_at)::float8"
        " FROM backupd.backup_jobs WHERE id = %s",
        [last_id],
    ).fetchone()
    store_bytes = sum(p.stat().st_size for p in first.settings.archive_dir.glob("backupd-*.zip"))
    expected = {
        ("backupd_jobs_total", (("kind", "backup"), ("status", "completed"))): 2,
        ("backupd_jobs_total", (("kind", "backup"), ("status", "failed"))): 1,
        ("backupd_jobs_total", (("kind", "backup"), ("status", "running"))): 0,
        ("backupd_jobs_total", (("kind", "restore"), ("status", "completed"))): 0,
        ("backupd_jobs_total", (("kind", "drill"), ("status", "failed"))): 0,
        ("backupd_last_success_timestamp_seconds", (("kind", "backup"),)): ts(last[0]),
        ("backupd_last_failure_timestamp_seconds", (("kind", "backup"),)): ts(failed_at),
        ("backupd_last_backup_size_bytes", ()): last[1],
        ("backupd_last_backup_duration_seconds", ()): last[2],
        ("backupd_backups", (("trigger", "manual"),)): 2,
        ("backupd_backups", (("trigger", "schedule"),)): 0,
        ("backupd_store_bytes", ()): store_bytes,
        ("backupd_store_archives", ()): 2,
        ("backupd_store_up", ()): 1,
        ("backupd_stale", ()): 0,
        ("backupd_stale_after_seconds", ()): 36 * 3600,
    }
    assert {k: got.get(k) for k in expected} == expected
    assert ("backupd_last_success_timestamp_seconds", (("kind", "drill"),)) not in got
    assert ("backupd_next_scheduled_backup_timestamp_seconds", ()) not in got  # the schedule is off


def test_next_scheduled_backup_and_status_shape(make_server: Callable[..., ApiServer], db: psycopg.Connection) -> None:
    fill_app_data(db, 20)
    server = make_server(schedule="0 2 * * *", timezone="Europe/Berlin", stale_after="90min")
    with server.client() as client:
        status = client.get("/api/status").json()
        assert status == {
            "last_backup": None,
            "last_drill": None,
            "stale": status["stale"],
            "stale_after": "90min",
            "notify": {
                "configured": False,
                "targets": [],
                "ping_configured": False,
                "last_error": None,
                "undelivered": 0,
            },
            "timezone": "Europe/Berlin",
            "next_backup_at": status["next_backup_at"],
            "recent_backups": [],
        }
        job_id, _ = run_backup(client)
        schedule = client.get("/api/schedule").json()
        got = samples(client)
        status = client.get("/api/status").json()
    assert (
        got[("backupd_next_scheduled_backup_timestamp_seconds", ())]
        == datetime.fromisoformat(schedule["next_run_at"].replace("Z", "+00:00")).timestamp()
    )
    assert datetime.fromisoformat(status["next_backup_at"]) == datetime.fromisoformat(schedule["next_run_at"])
    assert got[("backupd_stale_after_seconds", ())] == 5400
    assert status["stale"] is False
    backup = status["last_backup"]
    assert set(backup) == {
        "id",
        "status",
        "trigger",
        "created_at",
        "completed_at",
        "age_seconds",
        "duration_seconds",
        "size_bytes",
        "rows_reused",
        "rows_read",
    }
    assert backup["id"] == job_id and backup["status"] == "completed" and backup["trigger"] == "manual"
    assert backup["rows_reused"] == 0 and backup["rows_read"] > 0  # the first backup reads every row
    assert 0 <= backup["age_seconds"] < 60 and backup["duration_seconds"] >= 0 and backup["size_bytes"] > 0
    assert status["recent_backups"] == [backup] or status["recent_backups"][0]["id"] == job_id


def test_stale_when_no_backup_completed_in_time(make_server: Callable[..., ApiServer], db: psycopg.Connection) -> None:
    server = make_server(stale_after="1s")
    with server.client() as client:
        assert client.get("/api/status").json()["stale"] is True  # the template was migrated earlier than 1 s ago
        assert samples(client)[("backupd_stale", ())] == 1
        run_backup(client)
        assert client.get("/api/status").json()["stale"] is False
    off = make_server(stale_after="off")
    with off.client() as client:
        status = client.get("/api/status").json()
        assert status["stale"] is False and status["stale_after"] == "off"
        assert ("backupd_stale_after_seconds", ()) not in samples(client)
