"""Driving the scheduler from a test: a clock the test moves, and waiting for the job thread."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from backupd.schedule.clock import Clock
from tests.support.api import ApiServer, run_backup


class ManualClock(Clock):
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def set(self, text: str) -> None:
        self.current = datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def manual(server: ApiServer, start: str) -> ManualClock:
    """Stop the server's scheduler thread and give its schedule store a clock the test moves."""
    services = server.services
    services.scheduler.stop()
    clock = ManualClock(utc(start))
    # A look the thread took on the wall clock (a slow start) recorded its schedule as set "now", which
    # would be after every time of the test: forget it, so the schedule is in force from `start`.
    with services.schedules.pool.connection() as conn:
        conn.execute("DELETE FROM backupd.schedule_anchors WHERE since > %s", [clock.current])
    services.schedules.clock = clock
    services.scheduler.clock = clock
    return clock


def wait_idle(server: ApiServer) -> None:
    assert server.services.runner.wait(60)


def backup(server: ApiServer, c: httpx.Client) -> tuple[str, list[dict[str, Any]]]:
    """run_backup, then wait for the job's thread: retention runs right after the job completes, still
    holding the operation lock, so a backup started the instant the first one reads completed could get 409."""
    job_id, seen = run_backup(c)
    wait_idle(server)
    return job_id, seen
