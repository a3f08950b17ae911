"""Schedules, retention and pinning through real HTTP and real PostgreSQL (docs/operations.md).

The scheduler's clock is injected (a ManualClock the test moves), and its background thread is
stopped so each test drives `tick()` itself: no test waits for a wall-clock minute.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from backupd.cli import main
from backupd.db.locks import try_operation_lock
from backupd.ids import uuid7
from backupd.store import archive_name
from tests.support.api import fill_app_data
from tests.support.schedule import backup, manual, utc, wait_idle


def scheduled_jobs(db: psycopg.Connection) -> list[tuple[str, str, str]]:
    return [
        (str(r[0]), r[1].strftime("%Y-%m-%dT%H:%M:%SZ"), r[2])
        for r in db.execute(
            "SELECT b.id, s.scheduled_for AT TIME ZONE 'UTC', b.status FROM backupd.backup_jobs b"
            " JOIN backupd.schedule_slots s ON s.job_id = b.id WHERE b.trigger = 'schedule' ORDER BY s.scheduled_for"
        )
    ]


# ------------------------------------------------------------------------------------------
# GET / PUT /api/schedule


def test_schedule_defaults_and_validation(make_server, tmp_path: Path) -> None:
    server = make_server(schedule="0 2 * * *", timezone="UTC")
    clock = manual(server, "2026-03-01T10:00:00Z")
    with server.client() as c:
        body = c.get("/api/schedule").json()
        assert body == {
            "schedule": "0 2 * * *",
            "timezone": "UTC",
            "next_run_at": "2026-03-02T02:00:00Z",
            "last_scheduled_backup": None,
            "retention": {"keep_last": 7, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6},
            "drill_schedule": "off",
            "next_drill_at": None,
            "drill_configured": False,
        }

        for bad, reason in [
            ({"schedule": "61 2 * * *"}, "Invalid cron expression '61 2 * * *': bad minute"),
            ({"schedule": "0 2 * *"}, "expected 5 fields"),
            ({"schedule": "* * * * * *"}, "expected 5 fields"),
            ({"schedule": 5}, "schedule must be a string"),
            ({"timezone": "Mars/Olympus"}, "Unknown time zone: Mars/Olympus"),
            ({"retention": {"keep_daily": -1}}, "keep_daily must be 0 or more (got -1)"),
            ({"retention": {"keep_last": 1.5}}, "keep_last must be a whole number"),
            ({"retention": {"keep_hourly": 3}}, "Unknown retention field(s): keep_hourly"),
            ({"cron": "0 2 * * *"}, "Unknown field(s): cron"),
        ]:
            response = c.put("/api/schedule", json=bad)
            assert response.status_code == 400, (bad, response.text)
            assert reason in response.json()["detail"], (bad, response.json())
        assert (
            c.put("/api/schedule", content=b"{not json", headers={"Content-Type": "application/json"}).status_code
            == 400
        )
        assert c.put("/api/schedule", json=[1]).json() == {"detail": "The body must be a JSON object"}
        assert c.get("/api/schedule").json() == body  # nothing changed by the refused requests

        clock.set("2026-03-01T10:05:00Z")
        changed = c.put(
            "/api/schedule",
            json={"schedule": "30 2 * * *", "timezone": "Europe/Berlin", "retention": {"keep_daily": 14}},
        ).json()
        assert changed["schedule"] == "30 2 * * *" and changed["timezone"] == "Europe/Berlin"
        assert changed["next_run_at"] == "2026-03-02T01:30:00Z"  # 02:30 CET
        assert changed["retention"] == {"keep_last": 7, "keep_daily": 14, "keep_weekly": 4, "keep_monthly": 6}
        # A subset leaves the rest alone; read-only fields sent back unchanged are accepted.
        again = c.put("/api/schedule", json={**changed, "retention": {"keep_last": 3}}).json()
        assert again["retention"] == {"keep_last": 3, "keep_daily": 14, "keep_weekly": 4, "keep_monthly": 6}
        off = c.put("/api/schedule", json={"schedule": "OFF"}).json()
        assert off["schedule"] == "off" and off["next_run_at"] is None

    # Stored in the database: a server started with another environment uses the stored values,
    # except for fields never set through the API (the drill schedule here).
    other = make_server(schedule="0 5 * * *", timezone="UTC", keep_monthly=12, drill_schedule="0 4 * * 0")
    with other.client() as c:
        body = c.get("/api/schedule").json()
        assert body["schedule"] == "off" and body["timezone"] == "Europe/Berlin"
        assert body["retention"] == {"keep_last": 3, "keep_daily": 14, "keep_weekly": 4, "keep_monthly": 12}
        assert body["drill_schedule"] == "0 4 * * 0"


def test_a_bad_schedule_in_the_environment_stops_serve(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUPD_SCHEDULE", "0 25 * * *")
    assert main(["--database-url", database_url, "serve", "--port", "1"]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "backupd: error: BACKUPD_SCHEDULE: Invalid cron expression '0 25 * * *': bad hour"
    )
    monkeypatch.setenv("BACKUPD_SCHEDULE", "off")
    monkeypatch.setenv("BACKUPD_TIMEZONE", "Europe/Nowhere")
    assert main(["--database-url", database_url, "serve", "--port", "1"]) == 1
    assert "BACKUPD_TIMEZONE: Unknown time zone: Europe/Nowhere" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# The scheduler, tick by tick


def test_scheduled_backups_run_once_per_time_busy_waits_and_catch_up(
    make_server, db: psycopg.Connection, database_url: str
) -> None:
    fill_app_data(db, events=50)
    server = make_server(schedule="0 2 * * *", timezone="UTC", keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0)
    clock = manual(server, "2026-03-01T01:59:00Z")
    scheduler = server.services.scheduler

    # A fresh installation: the schedule is set now; nothing is due before 02:00.
    assert scheduler.tick() == []
    clock.set("2026-03-01T02:00:00Z")
    [first] = scheduler.tick()
    assert scheduler.tick() == []  # the same time never runs twice
    wait_idle(server)
    assert scheduled_jobs(db) == [(first, "2026-03-01T02:00:00Z", "completed")]
    with server.client() as c:
        job = c.get(f"/api/backup/{first}").json()
        assert job["trigger"] == "schedule" and job["pinned"] is False and job["status"] == "completed"
        summary = c.get("/api/schedule").json()
        assert summary["last_scheduled_backup"] == {"id": first, "status": "completed", "created_at": job["created_at"]}
        assert summary["next_run_at"] == "2026-03-02T02:00:00Z"

    # Busy at 02:00 the next day: the backup waits until the runner is free, then starts once.
    clock.set("2026-03-02T02:00:30Z")
    holder = try_operation_lock(database_url)
    try:
        assert scheduler.tick() == [] and scheduler.tick() == []
        with server.client() as c:  # still waiting: that time is what runs next
            assert c.get("/api/schedule").json()["next_run_at"] == "2026-03-02T02:00:00Z"
    finally:
        holder.close()
    clock.set("2026-03-02T02:07:00Z")
    [second] = scheduler.tick()
    wait_idle(server)
    assert scheduled_jobs(db)[-1] == (second, "2026-03-02T02:00:00Z", "completed")

    # No replica ran on 3, 4 and 5 March: one catch-up backup at the next start, for the latest time.
    clock.set("2026-03-05T09:00:00Z")
    [caught_up] = scheduler.tick()
    assert scheduler.tick() == []
    wait_idle(server)
    assert [s for _, s, _ in scheduled_jobs(db)] == [
        "2026-03-01T02:00:00Z",
        "2026-03-02T02:00:00Z",
        "2026-03-05T02:00:00Z",
    ]
    assert scheduled_jobs(db)[-1][0] == caught_up

    # A new schedule is in force from when it was set: no catch-up for times before that.
    with server.client() as c:
        c.put("/api/schedule", json={"schedule": "0 8 * * *"})
        assert scheduler.tick() == []  # 08:00 today came before the change
        assert c.get("/api/schedule").json()["next_run_at"] == "2026-03-06T08:00:00Z"
    clock.set("2026-03-06T08:00:00Z")
    assert len(scheduler.tick()) == 1
    wait_idle(server)

    # Off: nothing is ever due.
    with server.client() as c:
        c.put("/api/schedule", json={"schedule": "off"})
    clock.set("2026-03-09T08:00:00Z")
    assert scheduler.tick() == []


def test_a_time_claimed_by_another_replica_is_not_started_again(make_server, db: psycopg.Connection) -> None:
    fill_app_data(db, events=10)
    a = make_server(schedule="*/5 * * * *", keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0)
    b = make_server(schedule="*/5 * * * *", keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0)
    clocks = [manual(a, "2026-03-01T00:01:00Z"), manual(b, "2026-03-01T00:01:00Z")]
    assert a.services.scheduler.tick() == [] and b.services.scheduler.tick() == []
    started = []
    for minute in (5, 10, 15):
        for clock in clocks:
            clock.set(f"2026-03-01T00:{minute:02d}:10Z")
        for server in (b, a) if minute % 10 else (a, b):
            started += server.services.scheduler.tick()
            wait_idle(server)
    assert len(started) == 3
    assert [s for _, s, _ in scheduled_jobs(db)] == [
        "2026-03-01T00:05:00Z",
        "2026-03-01T00:10:00Z",
        "2026-03-01T00:15:00Z",
    ]


def test_times_passing_while_a_job_runs_each_start_after_it(
    make_server,
    db: psycopg.Connection,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 22: a job running across several scheduled times made all but the last vanish silently
    (the scheduler only ever looked at the latest due time). Each must start, oldest first, as soon as
    the job before it ends; what is skipped on purpose (catch-up, a schedule change) is logged."""
    fill_app_data(db, events=10)
    server = make_server(schedule="* * * * *", timezone="UTC", keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0)
    clock = manual(server, "2026-03-01T00:00:30Z")
    scheduler = server.services.scheduler
    caplog.set_level("INFO", logger="backupd.scheduler")

    def look_every_10_seconds(until: str) -> None:
        end = utc(until)
        while clock.current < end:
            clock.current += timedelta(seconds=10)
            assert scheduler.tick() == []

    def warnings() -> list[str]:
        out = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        caplog.clear()
        return out

    assert scheduler.tick() == []  # the schedule is set at 00:00:30: nothing due before 00:01
    holder = try_operation_lock(database_url)  # a job runs from 00:00:30 to 00:03:20: across 00:01, 00:02, 00:03
    try:
        look_every_10_seconds("2026-03-01T00:03:20Z")
        with server.client() as c:  # what runs next is the oldest waiting time
            assert c.get("/api/schedule").json()["next_run_at"] == "2026-03-01T00:01:00Z"
    finally:
        holder.close()
    assert warnings() == [
        (
            "scheduled backups fall behind: 2026-03-01T00:01:00+00:00, 2026-03-01T00:02:00+00:00"
            " are waiting for the runner; each starts as soon as the job before it ends"
        )
    ]
    started = []
    for _ in range(3):  # each starts at the first look after the one before ended
        [job_id] = scheduler.tick()
        started.append(job_id)
        wait_idle(server)
        clock.current += timedelta(seconds=5)
    assert scheduled_jobs(db) == [
        (started[0], "2026-03-01T00:01:00Z", "completed"),
        (started[1], "2026-03-01T00:02:00Z", "completed"),
        (started[2], "2026-03-01T00:03:00Z", "completed"),
    ]
    assert scheduler.tick() == []  # 00:03:35: nothing waits any more, 00:04 is next
    assert [r.getMessage().split(" started")[1] for r in caplog.records] == [
        "; 2 more scheduled time(s) waiting",
        "; 1 more scheduled time(s) waiting",
        "",
    ]
    assert warnings() == []

    # Another replica started 00:04 while this one was busy: it is dropped here, not started twice.
    holder = try_operation_lock(database_url)
    try:
        look_every_10_seconds("2026-03-01T00:04:05Z")
        other = uuid7()
        assert server.services.schedules.claim_backup(utc("2026-03-01T00:04:00Z"), other, 8, "* * * * *|UTC")
        look_every_10_seconds("2026-03-01T00:04:15Z")
        with server.client() as c:
            assert c.get("/api/schedule").json()["next_run_at"] == "2026-03-01T00:05:00Z"
    finally:
        holder.close()
    db.execute("UPDATE backupd.backup_jobs SET status = 'completed' WHERE id = %s", [other])

    # The only replica did not look for more than a minute (stopped, suspended): it catches up once, and
    # says which times the catch-up stands for.
    clock.set("2026-03-01T00:11:30Z")
    [caught_up] = scheduler.tick()
    wait_idle(server)
    assert scheduled_jobs(db)[-1] == (caught_up, "2026-03-01T00:11:00Z", "completed")
    assert warnings() == [
        (
            "catch-up: scheduled backups for 2026-03-01T00:05:00+00:00 ... 2026-03-01T00:10:00+00:00"
            " (6 times) passed while no replica was running; the backup for 2026-03-01T00:11:00+00:00"
            " stands for them"
        )
    ]

    # Too many waiting (backups slower than the schedule for long): the oldest are skipped, with a warning.
    monkeypatch.setattr("backupd.schedule.scheduler.MAX_WAITING", 2)
    holder = try_operation_lock(database_url)
    try:
        look_every_10_seconds("2026-03-01T00:14:10Z")
        assert warnings() == [
            (
                "scheduled backups fall behind: 2026-03-01T00:12:00+00:00, 2026-03-01T00:13:00+00:00 are waiting for"
                " the runner; each starts as soon as the job before it ends"
            ),
            (
                "scheduled backups for 2026-03-01T00:12:00+00:00 skipped: 2 later scheduled times are already waiting"
                " for the runner (backups take longer than the schedule's interval)"
            ),
        ]
        # Turned off while times wait: they are dropped, and the log says so.
        with server.client() as c:
            assert c.put("/api/schedule", json={"schedule": "off"}).json()["next_run_at"] is None
        look_every_10_seconds("2026-03-01T00:14:20Z")
    finally:
        holder.close()
    assert warnings() == [
        (
            "scheduled backups for 2026-03-01T00:13:00+00:00, 2026-03-01T00:14:00+00:00 skipped:"
            " the schedule changed to off (UTC)"
        )
    ]
    look_every_10_seconds("2026-03-01T00:16:00Z")
    assert [s for _, s, _ in scheduled_jobs(db)] == [f"2026-03-01T00:{m:02d}:00Z" for m in (1, 2, 3, 4, 11)]


def test_times_a_dead_replica_saw_pass_are_started_by_another(
    make_server, db: psycopg.Connection, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The times waiting behind a running job are in the database, not in the memory of the replica that
    saw them pass: a replica that starts later (or the survivor of a crash) starts them, in order."""
    fill_app_data(db, events=10)
    settings = {"schedule": "* * * * *", "keep_last": 0, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0}
    a, b = make_server(**settings), make_server(**settings)
    clocks = [manual(a, "2026-03-01T00:00:30Z"), manual(b, "2026-03-01T00:00:30Z")]
    caplog.set_level("WARNING")

    def at(when: str) -> None:
        for clock in clocks:
            clock.set(f"2026-03-01T{when}Z")

    assert a.services.scheduler.tick() == []  # A runs from 00:00:30, B is not running yet
    holder = try_operation_lock(database_url)  # a job runs across 00:01 and 00:02
    try:
        for when in ("00:00:50", "00:01:10", "00:01:30", "00:01:50", "00:02:10"):
            at(when)
            assert a.services.scheduler.tick() == []  # A sees 00:01 and 00:02 pass
        # A dies. B starts at 00:02:10: its catch-up time 00:02 is waiting already, and so is 00:01.
        assert b.services.scheduler.tick() == []
        with b.client() as c:
            assert c.get("/api/schedule").json()["next_run_at"] == "2026-03-01T00:01:00Z"
    finally:
        holder.close()
    at("00:02:15")
    [first] = b.services.scheduler.tick()
    wait_idle(b)
    [second] = b.services.scheduler.tick()
    wait_idle(b)
    assert scheduled_jobs(db) == [
        (first, "2026-03-01T00:01:00Z", "completed"),
        (second, "2026-03-01T00:02:00Z", "completed"),
    ]
    # Each replica says once that backups fall behind; B found no time missed.
    assert [r.getMessage() for r in caplog.records] == 2 * [
        (
            "scheduled backups fall behind: 2026-03-01T00:01:00+00:00, 2026-03-01T00:02:00+00:00 are waiting for the"
            " runner; each starts as soon as the job before it ends"
        )
    ]


# ------------------------------------------------------------------------------------------
# Pinning


def test_pin_and_unpin(make_server) -> None:
    server = make_server()
    with server.client() as c:
        job_id, seen = backup(server, c)
        assert seen[-1]["pinned"] is False and seen[-1]["trigger"] == "manual"
        pinned = c.patch(f"/api/backup/{job_id}", json={"pinned": True})
        assert pinned.status_code == 200 and pinned.json()["pinned"] is True and pinned.json()["id"] == job_id
        [item] = c.get("/api/backup").json()["backups"]
        assert item["pinned"] is True and item["trigger"] == "manual"
        assert c.patch(f"/api/backup/{job_id}", json={"pinned": False}).json()["pinned"] is False

        for body in ({"pinned": "yes"}, {"pinned": 1}, {}, {"pinned": True, "x": 1}, [True]):
            response = c.patch(f"/api/backup/{job_id}", json=body)
            assert response.status_code == 400, body
            assert response.json()["detail"] in ('Expected {"pinned": true|false}', "The body must be a JSON object")
        assert c.patch(f"/api/backup/{job_id}", content=b"pinned").status_code == 400
        unknown = str(uuid.uuid4())
        response = c.patch(f"/api/backup/{unknown}", json={"pinned": True})
        assert response.status_code == 404 and response.json() == {"detail": f"Backup job not found: {unknown}"}
        assert c.patch("/api/backup/not-a-uuid", json={"pinned": True}).status_code == 404


# ------------------------------------------------------------------------------------------
# Retention: through the API, after each backup, and with `backupd prune`


def fake_history(db: psycopg.Connection, store_dir: Path, times: list[datetime]) -> list[str]:
    """Completed backup rows at chosen times, each with a (small) object in the directory store."""
    store_dir.mkdir(parents=True, exist_ok=True)
    ids = []
    for when in times:
        job_id = uuid7()
        path = store_dir / archive_name(job_id, when)
        path.write_bytes(b"PK\x05\x06" + bytes(18))
        db.execute(
            "INSERT INTO backupd.backup_jobs (id, status, created_at, started_at, completed_at, progress_percent,"
            " file_path, file_size_bytes, trigger) VALUES (%s, 'completed', %s, %s, %s, 100, %s, 22, 'schedule')",
            [job_id, when, when, when, str(path)],
        )
        ids.append(job_id)
    return ids


def test_prune_through_the_api(make_server, db: psycopg.Connection, tmp_path: Path, database_url: str) -> None:
    server = make_server(schedule="off", keep_last=2, keep_daily=0, keep_weekly=2, keep_monthly=0)
    store_dir = server.settings.archive_dir
    # Mon 2 .. Sun 15 March 2026 at 02:00 UTC: ISO weeks 10 (2-8) and 11 (9-15).
    ids = fake_history(db, store_dir, [datetime(2026, 3, d, 2, tzinfo=UTC) for d in range(2, 16)])
    by_day = dict(zip(range(2, 16), ids, strict=True))  # one backup per day
    db.execute("UPDATE backupd.backup_jobs SET pinned = true WHERE id = %s", [by_day[3]])
    drill = uuid7()  # a drill reading the backup of 4 March is running
    db.execute("INSERT INTO backupd.drill_runs (id, backup_id, status) VALUES (%s, %s, 'running')", [drill, by_day[4]])

    with server.client() as c:
        dry = c.post("/api/backup/prune", params={"dry_run": "true"})
        assert dry.status_code == 200
        expected_kept = [
            {"id": by_day[15], "reasons": ["newest", "last", "weekly"]},
            {"id": by_day[14], "reasons": ["last"]},
            {"id": by_day[8], "reasons": ["weekly"]},
            {"id": by_day[4], "reasons": ["in use"]},
            {"id": by_day[3], "reasons": ["pinned"]},
        ]
        expected_removed = [by_day[d] for d in (13, 12, 11, 10, 9, 7, 6, 5, 2)]
        assert dry.json() == {"kept": expected_kept, "removed": expected_removed}
        assert len(list(store_dir.iterdir())) == 14  # a dry run changes nothing
        assert db.execute("SELECT count(*) FROM backupd.backup_jobs").fetchone()[0] == 14

        holder = try_operation_lock(database_url)
        try:
            busy = c.post("/api/backup/prune")
            assert busy.status_code == 409 and busy.json() == {"detail": "Another backup or restore is already running"}
        finally:
            holder.close()

        real = c.post("/api/backup/prune")
        assert real.json() == {"kept": expected_kept, "removed": expected_removed}
        left = {str(r[0]) for r in db.execute("SELECT id FROM backupd.backup_jobs")}
        assert left == {k["id"] for k in expected_kept}
        assert sorted(p.name.split("-", 2)[2].removesuffix(".zip") for p in store_dir.iterdir()) == sorted(left)
        assert {b["id"] for b in c.get("/api/backup").json()["backups"]} == left

        # A PUT changes the policy but prunes nothing by itself.
        c.put("/api/schedule", json={"retention": {"keep_last": 1, "keep_weekly": 0}})
        assert {str(r[0]) for r in db.execute("SELECT id FROM backupd.backup_jobs")} == left


def test_retention_runs_after_every_completed_backup(make_server, db: psycopg.Connection) -> None:
    fill_app_data(db, events=20)
    server = make_server(schedule="off", keep_last=2, keep_daily=0, keep_weekly=0, keep_monthly=0)
    with server.client() as c:
        first, _ = backup(server, c)
        second, _ = backup(server, c)
        c.patch(f"/api/backup/{first}", json={"pinned": True})
        third, _ = backup(server, c)
        fourth, seen = backup(server, c)
        assert seen[-1]["status"] == "completed"
        wait_idle(server)  # retention runs in the job's thread, right after it completes
        listed = [b["id"] for b in c.get("/api/backup").json()["backups"]]
        assert listed == [fourth, third, first]  # second removed: neither among the last 2 nor pinned
        assert c.get(f"/api/backup/{second}").status_code == 404
        assert not [p for p in server.settings.archive_dir.iterdir() if second in p.name]


def test_backupd_prune_cli_on_ninety_daily_backups(
    database_url: str,
    db: psycopg.Connection,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_dir = tmp_path / "store"
    monkeypatch.setenv("BACKUPD_STORE", str(store_dir))
    for name in ("SCHEDULE", "TIMEZONE", "KEEP_LAST", "KEEP_DAILY", "KEEP_WEEKLY", "KEEP_MONTHLY"):
        monkeypatch.delenv(f"BACKUPD_{name}", raising=False)
    monkeypatch.setenv("BACKUPD_TIMEZONE", "Europe/Berlin")
    # 90 nightly backups at 02:00 Berlin time, 1 January .. 31 March 2026 (across the DST change of 29 March).
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    times = [datetime(2026, 1, 1, 2, tzinfo=berlin) + timedelta(days=n) for n in range(90)]
    ids = fake_history(db, store_dir, times)
    assert main(["--database-url", database_url, "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    print(out)
    lines = out.splitlines()
    assert lines[0] == (
        "retention policy: keep_last=7, keep_daily=7, keep_weekly=4, keep_monthly=6"
        " (days, weeks and months in Europe/Berlin)"
    )
    assert lines[-1] == "11 kept, 79 would be removed (dry run: nothing changed)"
    assert lines[1] == f"  {ids[-1]}  2026-03-31 02:00 Tue  keep   newest, last, daily, weekly, monthly"
    assert f"  {ids[0]}  2026-01-01 02:00 Thu  would remove" in lines
    assert f"  {ids[30]}  2026-01-31 02:00 Sat  keep   monthly" in lines
    assert len(list(store_dir.iterdir())) == 90

    assert main(["--database-url", database_url, "prune"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "11 kept, 79 removed"
    assert len(list(store_dir.iterdir())) == 11
    assert db.execute("SELECT count(*) FROM backupd.backup_jobs").fetchone()[0] == 11

    holder = try_operation_lock(database_url)
    try:
        assert main(["--database-url", database_url, "prune"]) == 1
        assert "another backup or restore is running" in capsys.readouterr().err
    finally:
        holder.close()
