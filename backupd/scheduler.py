"""The scheduler inside `backupd serve` (CONTRACT §9): automatic backups and drills, retention after backups.

Every replica runs one of these threads. Each tick it asks schedule.ScheduleStore which scheduled
time is due (the latest one at or before now that came after the schedule was set and after the
last one started) and tries to start it:

- a backup needs the operation lock; while a backup or restore runs anywhere the lock is busy and
  the tick simply tries again a moment later, so a scheduled backup starts as soon as the runner
  is free. With the lock held, the scheduled time is claimed and its job row created in one
  statement: whichever replica gets there first starts it, every other one finds it claimed.
- a drill needs the drill lock, then claims its time the same way (drills.DrillService).

Times missed while no replica ran collapse into one: the latest is due, once, at the next start
(the catch-up rule), and a schedule set just now has nothing due before its next time.
Time comes from a Clock, so tests run a day of schedules in seconds (clock.ScaledClock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from .clock import Clock, clock_from_env
from .config import Settings
from .drills import DrillRefused, DrillService, DrillStore
from .errors import BusyError, one_line
from .ids import uuid7
from .jobs import ConnectionPool, JobRunner, JobStore
from .locking import try_operation_lock
from .prune import PruneResult, prune
from .schedule import BACKUP, DRILL, ScheduleConfig, ScheduleStore
from .store import Store

log = logging.getLogger("backupd.scheduler")

POLL_SECONDS = 1.0  # how often a replica looks for due times (and retries a busy runner)
REAP_EVERY = 10  # ticks between looks for drills of stopped processes


class Scheduler:
    def __init__(self, *, database_url: str, schedules: ScheduleStore, runner: JobRunner, archives: Store,
                 tables: tuple[str, ...], drills: DrillService | None = None, clock: Clock | None = None,
                 poll_seconds: float | None = None) -> None:
        self.database_url = database_url
        self.schedules, self.runner, self.archives, self.tables, self.drills = (
            schedules, runner, archives, tables, drills)
        self.clock = clock or schedules.clock
        # A faster test clock is looked at more often, so a "minute" of it is not one real poll.
        self.poll_seconds = poll_seconds or min(POLL_SECONDS, max(0.05, 5.0 / self.clock.scale))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backupd-scheduler", daemon=True)
        self._ticks = 0
        self._warned: set[str] = set()

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - a database outage or a bad setting must not end the thread
                self._warn_once(f"tick:{one_line(exc)}", "scheduler: %s", one_line(exc))

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def tick(self) -> list[str]:
        """One look: start what is due; return the ids of the backups and drills started."""
        self._ticks += 1
        config = self.schedules.config()
        started: list[str] = []
        slot = self.schedules.due(BACKUP, config.backup)
        if slot is not None:
            job_id = self.start_scheduled_backup(slot)
            if job_id:
                started.append(job_id)
        if self.drills is not None:
            drill_slot = self.schedules.due(DRILL, config.drill)
            row = None
            if drill_slot is not None:
                try:
                    row = self.drills.start_scheduled(drill_slot)
                except DrillRefused as exc:  # said once, not every tick
                    self._warn_once(f"drill:{exc}", "scheduled drills are skipped: %s", exc)
                if row is not None:
                    log.info("scheduled drill %s of backup %s for %s", row["id"], row["backup_id"],
                             drill_slot.isoformat())
                    started.append(str(row["id"]))
            if self._ticks % REAP_EVERY == 0:
                self.drills.reap()
        return started

    def start_scheduled_backup(self, slot: datetime) -> str | None:
        """Start the backup of `slot` if the runner is free and no replica claimed it; its job id."""
        try:
            lock = try_operation_lock(self.database_url)
        except BusyError:
            return None  # a job runs: try again next tick, so the backup starts as soon as it ends
        job_id = uuid7()
        try:
            lock.hold_job(job_id)
            if not self.schedules.claim_backup(slot, job_id, len(self.tables)):
                lock.close()
                return None
            self.runner.start_backup(job_id, self.archives.new_archive(job_id), lock)
        except BaseException:
            lock.close()
            raise
        log.info("scheduled backup %s for %s started", job_id, slot.isoformat())
        return job_id

    def next_runs(self, config: ScheduleConfig | None = None) -> tuple[datetime | None, datetime | None]:
        """(next backup, next drill): a due time still waiting, else the schedule's next time."""
        config = config or self.schedules.config()
        drill = self.schedules.next_run(DRILL, config.drill) if self.drills and self.drills.drill_url else None
        return self.schedules.next_run(BACKUP, config.backup), drill


def retention_hook(apply: Callable[[], object]) -> Callable[[str], None]:
    """JobRunner.after_backup: apply retention once a backup completed; a failure is only logged."""

    def after(job_id: str) -> None:
        try:
            apply()
        except Exception as exc:  # noqa: BLE001 - the backup itself succeeded
            log.warning("retention after backup %s failed: %s", job_id, one_line(exc))

    return after


def build_automation(settings: Settings, database_url: str, pool: ConnectionPool, jobs: JobStore,
                     runner: JobRunner, archives: Store, clock: Clock | None = None,
                     ) -> tuple[ScheduleStore, DrillService, Scheduler]:
    """What `serve` adds to the job runner: schedule settings, drills, the scheduler, retention after
    each completed backup. Raises InvalidSchedule for a bad BACKUPD_SCHEDULE/TIMEZONE/DRILL_SCHEDULE."""
    clock = clock or clock_from_env()
    schedules = ScheduleStore(pool, settings, clock)
    schedules.config()  # a bad environment value stops start-up with the reason
    drills = DrillService(database_url, settings.drill_database_url, DrillStore(pool), jobs, archives,
                          tuple(settings.tables))

    def apply_retention() -> PruneResult:
        config = schedules.config()
        return prune(pool, archives, config.policy, config.timezone)

    runner.after_backup = retention_hook(apply_retention)
    scheduler = Scheduler(database_url=database_url, schedules=schedules, runner=runner, archives=archives,
                          tables=tuple(settings.tables), drills=drills, clock=clock)
    return schedules, drills, scheduler
