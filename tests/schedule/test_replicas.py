"""Scheduled backups with real `backupd serve` processes on one database and one store (docs/operations.md).

The replicas share a fast test clock (BACKUPD_TEST_CLOCK: a minute passes in one or two real
seconds), so the real five-field schedules, sleeps, locks and PostgreSQL are exercised for many
scheduled times without waiting for wall-clock minutes. On a busy machine a backup can take longer
than a minute of that clock; then the times that pass meanwhile wait and start one after the other
(issue 22: they used to be lost), which these tests check too, so their timeouts are generous.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from backupd.jobs import INTERRUPTED_MESSAGE
from backupd.schedule.clock import ScaledClock
from tests.support.api import fill_app_data
from tests.support.replica import Replica

KEEP_ALL = {
    "BACKUPD_KEEP_LAST": "0",
    "BACKUPD_KEEP_DAILY": "0",
    "BACKUPD_KEEP_WEEKLY": "0",
    "BACKUPD_KEEP_MONTHLY": "0",
}


@pytest.fixture
def start_replica(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Replica]]:
    started: list[Replica] = []

    def start(name: str, **env: str) -> Replica:
        base = {"BACKUPD_DATABASE_URL": database_url, "BACKUPD_STORE": str(tmp_path / "store"), **KEEP_ALL}
        replica = Replica({**base, **env}, tmp_path / name)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


def slots(db: psycopg.Connection) -> list[tuple[datetime, str, str | None]]:
    """(scheduled time, job status, error) of every started scheduled backup, in time order."""
    return [
        (r[0], r[1], r[2])
        for r in db.execute(
            "SELECT s.scheduled_for, b.status::text, b.error_message FROM backupd.schedule_slots s"
            " JOIN backupd.backup_jobs b ON b.id = s.job_id WHERE s.kind = 'backup' ORDER BY s.scheduled_for"
        )
    ]


def timeline(db: psycopg.Connection, clock: ScaledClock) -> str:
    """Every started scheduled backup with when, on the test clock, it was claimed and when it ran."""

    def at(when: datetime | None) -> str:
        return "-" if when is None else f"{clock.start + (when - clock_zero) * clock.scale:%H:%M:%S}"

    clock_zero = datetime.fromtimestamp(clock.real_start, UTC)
    rows = db.execute(
        "SELECT s.scheduled_for, s.claimed_at, b.started_at, b.completed_at, b.status::text"
        " FROM backupd.schedule_slots s JOIN backupd.backup_jobs b ON b.id = s.job_id"
        " WHERE s.kind = 'backup' ORDER BY s.claimed_at"
    ).fetchall()
    return "\n".join(f"  {r[0]:%H:%M} claimed {at(r[1])}, ran {at(r[2])}-{at(r[3])}, {r[4]}" for r in rows)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_three_replicas_start_each_scheduled_time_once(start_replica, db: psycopg.Connection) -> None:
    fill_app_data(db, events=50)
    # Every minute, with a minute passing every 2 real seconds.
    clock = ScaledClock(datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC), time.time(), 30.0)
    env = {"BACKUPD_SCHEDULE": "* * * * *", "BACKUPD_TEST_CLOCK": clock.spec()}
    replicas = [start_replica(f"r{n}", **env) for n in range(3)]

    wait_until(lambda: len(slots(db)) >= 4, 120, "four scheduled backups")
    replicas[0].stop(signal.SIGKILL)  # one replica dies, perhaps in the middle of a backup
    killed_after = len(slots(db))
    wait_until(lambda: len(slots(db)) >= killed_after + 4, 120, "four more scheduled backups")
    # Turned off through one replica: every replica stops starting backups; let the last one finish.
    assert replicas[2].client.put("/api/schedule", json={"schedule": "off"}).json()["next_run_at"] is None
    time.sleep(0.5)
    wait_until(
        lambda: all(status != "running" and status != "pending" for _, status, _ in slots(db)),
        120,
        "the last scheduled backup to finish",
    )
    count = len(slots(db))
    time.sleep(3)  # a minute and a half of the clock: nothing more starts
    assert len(slots(db)) == count
    for replica in replicas[1:]:
        replica.stop()

    started = slots(db)
    times = [t for t, _, _ in started]
    minutes = [(t - times[0]) / timedelta(minutes=1) for t in times]
    print(f"scheduled times started (in the order they were claimed):\n{timeline(db, clock)}")
    # Every minute once: none twice, none skipped, however long each backup took.
    assert minutes == list(range(len(times))), timeline(db, clock)
    assert all(t.second == 0 for t in times)
    for when, status, error in started:
        # Each time started one backup; only the one the killed replica was running may have failed.
        assert status == "completed" or (status == "failed" and error == INTERRUPTED_MESSAGE), (when, status, error)
    assert sum(status == "failed" for _, status, _ in started) <= 1
    jobs = db.execute("SELECT count(*) FROM backupd.backup_jobs WHERE trigger = 'schedule'").fetchone()[0]
    assert jobs == len(started)  # no scheduled job without its time, none twice


def test_catch_up_after_downtime_but_never_at_once_on_a_fresh_install(start_replica, db: psycopg.Connection) -> None:
    fill_app_data(db, events=50)
    # Daily at 02:00; the clock starts at 01:35 and runs 30 times faster (a minute in two seconds): the
    # first replica has 48 real seconds to start, look and stop before 01:59 (on a busy machine start-up
    # took more than the 9 seconds that 01:50 at 60x left).
    clock = ScaledClock(datetime(2026, 3, 1, 1, 35, tzinfo=UTC), time.time(), 30.0)
    env = {"BACKUPD_SCHEDULE": "0 2 * * *", "BACKUPD_TEST_CLOCK": clock.spec()}

    # A fresh installation: yesterday's 02:00 is in the past, and no backup starts for it.
    first = start_replica("first", **env)
    time.sleep(1.5)
    assert first.client.get("/api/schedule").json()["next_run_at"] == "2026-03-01T02:00:00Z"
    assert slots(db) == []
    first.stop()
    assert clock.now() < datetime(2026, 3, 1, 1, 59, tzinfo=UTC), "start-up took too long for this test"

    # No replica runs at 02:00. One starts at about 02:03: one catch-up backup, within a minute.
    wait_until(lambda: clock.now() >= datetime(2026, 3, 1, 2, 3, tzinfo=UTC), 120, "02:03")
    second = start_replica("second", **env)
    up_at = clock.now()
    wait_until(lambda: len(slots(db)) == 1, 30, "the catch-up backup")
    caught_up_at = clock.now()
    print(f"catch-up started {(caught_up_at - up_at).total_seconds():.0f} clock seconds after the replica answered")
    assert caught_up_at - up_at < timedelta(minutes=1)
    [(when, _, _)] = slots(db)
    assert when == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    wait_until(lambda: slots(db)[0][1] == "completed", 60, "the catch-up backup to complete")
    summary = second.client.get("/api/schedule").json()
    assert summary["last_scheduled_backup"]["status"] == "completed"
    assert summary["next_run_at"] == "2026-03-02T02:00:00Z"
    time.sleep(4)  # two more clock minutes: still only the one catch-up
    assert len(slots(db)) == 1
