"""The scheduler inside `backupd serve` (docs/operations.md): automatic backups and drills, retention after backups.

Every replica runs one of these threads and looks every POLL_SECONDS. Each look records the
scheduled backup times that passed since its previous look as waiting (schedule.WAITING, in the
database, so every replica sees them and none is lost with the replica that saw it), and starts the
oldest waiting time when the runner is free:

- a backup needs the operation lock; while a backup or restore runs anywhere the lock is busy and
  the times wait, so a scheduled backup starts as soon as the job ends. Times that pass while one
  job runs all wait and start one after the other, oldest first: every scheduled time some replica
  was running for gets its own backup, however late (a job spanning 00:07-00:09 used to make 00:08
  vanish without a word). More than MAX_WAITING waiting times means backups take longer than the
  schedule's interval: the oldest are skipped, with a warning.
- with the lock held, the time is claimed and its job row created in one statement (which also
  checks that the schedule is still the one in force): whichever replica gets there first starts
  it; for the others it no longer waits.
- a drill needs the drill lock, then claims its time the same way (DrillService). Drill times that
  pass while a drill runs collapse into the latest (the next drill checks the newest backup
  anyway), and the log names them.

Times no replica saw pass (none was running, or the only one had stalled for more than
STALLED_SECONDS) collapse into one: the latest is due, once (the catch-up rule), and the log names
the times it stands for; a schedule set just now has nothing due before its next time.
Time comes from a Clock, so tests run a day of schedules in seconds (clock.ScaledClock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from ..config import Settings
from ..db.locks import OperationLock, try_operation_lock
from ..db.pool import ConnectionPool
from ..drill.service import DrillRecords, DrillRefused, DrillService
from ..errors import BusyError, one_line
from ..ids import uuid7
from ..jobs import JobRecords, JobRunner
from ..jobs.launch import launch_job
from ..retention.apply import PruneResult, prune
from ..store import Store
from .clock import Clock, clock_from_env
from .cron import CronSchedule
from .settings import BACKUP, COUNTED, DRILL, ScheduleConfig, ScheduleRecords, describe

log = logging.getLogger("backupd.scheduler")

POLL_SECONDS = 1.0  # how often a replica looks for due times (and retries a busy runner)
REAP_EVERY = 10  # ticks between looks for drills of stopped processes
STALLED_SECONDS = 60.0  # real seconds between two looks after which the replica counts as not having run
MAX_WAITING = 100  # scheduled backups waiting for the runner; beyond that the oldest are skipped (a warning)


class Scheduler:
    def __init__(
        self,
        *,
        database_url: str,
        schedules: ScheduleRecords,
        runner: JobRunner,
        archives: Store,
        tables: tuple[str, ...],
        drills: DrillService | None = None,
        clock: Clock | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        self.database_url = database_url
        self.schedules, self.runner, self.archives, self.tables, self.drills = (
            schedules,
            runner,
            archives,
            tables,
            drills,
        )
        self.clock = clock or schedules.clock
        # A faster test clock is looked at more often, so a "minute" of it is not one real poll.
        self.poll_seconds = poll_seconds or min(POLL_SECONDS, max(0.05, 5.0 / self.clock.scale))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backupd-scheduler", daemon=True)
        self._ticks = 0
        self._warned: set[str] = set()
        self.replica_id = uuid7()  # recorded with the times this replica saw pass (schedule.WAITING)
        self._seen_until: datetime | None = None  # the clock at the last look that recorded what passed
        self._behind = False  # said that backups fall behind the schedule (once until none waits)
        # Told of scheduled backup times that will never get a backup of their own (serve: the notifier).
        self.on_missed: Callable[[Sequence[datetime], str], None] | None = None

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
            except Exception as exc:
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
        job_id = self._backup_tick(config.backup)
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
                    log.info(
                        "scheduled drill %s of backup %s for %s", row["id"], row["backup_id"], drill_slot.isoformat()
                    )
                    skipped = self.schedules.unstarted_before(DRILL, config.drill, drill_slot, limit=COUNTED)
                    if skipped:
                        log.warning(
                            "scheduled drills for %s were not started (a drill was running, or no replica"
                            " was); the drill for %s stands for them",
                            describe(skipped),
                            drill_slot.isoformat(),
                        )
                    started.append(str(row["id"]))
            if self._ticks % REAP_EVERY == 0:
                self.drills.reap()
        return started

    def _backup_tick(self, schedule: CronSchedule) -> str | None:
        """Record the scheduled times that passed since the last look, and start the oldest waiting
        one if the runner is free; the job id."""
        now = self.clock.now()
        if schedule.off:
            self._seen_until, self._behind = now, False
            return None
        seen = self._seen_until
        if seen is None or now < seen or self.clock.real_seconds(now - seen) > STALLED_SECONDS:
            self._catch_up(schedule)  # not looking until now (just started, stalled, or the clock went back)
        else:
            passed = schedule.times_between(max(seen, self.schedules.since(BACKUP, schedule)), now)
            if passed and self.schedules.record_due(passed, self.replica_id):
                skipped = self.schedules.trim_waiting(MAX_WAITING)
                if skipped:
                    log.warning(
                        "scheduled backups for %s skipped: %d later scheduled times are already waiting"
                        " for the runner (backups take longer than the schedule's interval)",
                        describe(skipped),
                        MAX_WAITING,
                    )
                    self._missed(skipped, f"{MAX_WAITING} later scheduled times were already waiting for the runner")
        self._seen_until = now
        waiting = self.schedules.waiting(schedule)
        if len(waiting) > 1 and not self._behind:
            self._behind = True
            log.warning(
                "scheduled backups fall behind: %s are waiting for the runner; each starts as soon as the"
                " job before it ends",
                describe(waiting),
            )
        if not waiting:
            self._behind = False
            return None
        try:
            lock = try_operation_lock(self.database_url)
        except BusyError:
            return None  # a job runs: try again next tick, so the backup starts as soon as it ends
        try:
            return self.start_scheduled_backup(lock, waiting, schedule.spec)
        except BaseException:
            lock.close()
            raise

    def _catch_up(self, schedule: CronSchedule) -> None:
        """The catch-up rule: the latest time due waits (once), standing for the times before it that no
        replica saw pass; the log names those."""
        slot = self.schedules.due(BACKUP, schedule)
        if slot is None or not self.schedules.record_due([slot], self.replica_id):
            return  # nothing due, or a replica that was running recorded it already
        known = set(self.schedules.waiting(schedule))
        missed = [t for t in self.schedules.unstarted_before(BACKUP, schedule, slot, limit=COUNTED) if t not in known]
        if missed:
            log.warning(
                "catch-up: scheduled backups for %s passed while no replica was running; the backup for %s"
                " stands for them",
                describe(missed),
                slot.isoformat(),
            )
            self._missed(missed, f"no replica was running; the backup for {slot.isoformat()} stands for them")

    def _missed(self, times: Sequence[datetime], reason: str) -> None:
        if self.on_missed is not None:
            try:
                self.on_missed(times, reason)
            except Exception:  # telling must never stop the scheduler
                log.exception("could not report missed scheduled backups")

    def start_scheduled_backup(self, lock: OperationLock, times: Sequence[datetime], spec: str) -> str | None:
        """With the runner's lock, start the oldest of `times` no replica started yet; its job id. The job
        owns the lock from then on; closed here when nothing starts."""
        launched = launch_job(
            lock,
            lambda job_id: self._claim_oldest(times, job_id, spec),
            lambda job_id, _slot: self.runner.start_backup(job_id, self.archives.new_archive(job_id), lock),
        )
        if launched is None:
            return None
        job_id, slot = launched
        waiting = len([t for t in times if t > slot])
        log.info(
            "scheduled backup %s for %s started%s",
            job_id,
            slot.isoformat(),
            f"; {waiting} more scheduled time(s) waiting" if waiting else "",
        )
        return job_id

    def _claim_oldest(self, times: Sequence[datetime], job_id: str, spec: str) -> datetime | None:
        """The oldest of `times` claimed for `job_id`, skipping those other replicas started a moment ago."""
        for slot in times:
            if self.schedules.claim_backup(slot, job_id, len(self.tables), spec):
                return slot
            if not self.schedules.claimed(BACKUP, [slot]):
                return None  # neither claimed nor started: the schedule changed a moment ago
        return None  # all started by other replicas a moment ago

    def next_runs(self, config: ScheduleConfig | None = None) -> tuple[datetime | None, datetime | None]:
        """(next backup, next drill): a due time still waiting, else the schedule's next time."""
        config = config or self.schedules.config()
        drill = self.schedules.next_run(DRILL, config.drill) if self.drills and self.drills.drill_url else None
        waiting = self.schedules.waiting(config.backup)
        return (waiting[0] if waiting else self.schedules.next_run(BACKUP, config.backup)), drill


def retention_hook(apply: Callable[[], object]) -> Callable[[str], None]:
    """JobRunner.after_backup: apply retention once a backup completed; a failure is only logged."""

    def after(job_id: str) -> None:
        try:
            apply()
        except Exception as exc:
            log.warning("retention after backup %s failed: %s", job_id, one_line(exc))

    return after


def build_automation(
    settings: Settings,
    database_url: str,
    pool: ConnectionPool,
    jobs: JobRecords,
    runner: JobRunner,
    archives: Store,
    clock: Clock | None = None,
) -> tuple[ScheduleRecords, DrillService, Scheduler]:
    """What `serve` adds to the job runner: schedule settings, drills, the scheduler, retention after
    each completed backup. Raises InvalidSchedule for a bad BACKUPD_SCHEDULE/TIMEZONE/DRILL_SCHEDULE."""
    clock = clock or clock_from_env()
    schedules = ScheduleRecords(pool, settings, clock)
    schedules.config()  # a bad environment value stops start-up with the reason
    drills = DrillService(
        database_url, settings.drill_database_url, DrillRecords(pool), jobs, archives, tuple(settings.tables)
    )

    def apply_retention() -> PruneResult:
        config = schedules.config()
        return prune(pool, archives, config.policy, config.timezone)

    runner.after_backup = retention_hook(apply_retention)
    scheduler = Scheduler(
        database_url=database_url,
        schedules=schedules,
        runner=runner,
        archives=archives,
        tables=tuple(settings.tables),
        drills=drills,
        clock=clock,
    )
    return schedules, drills, scheduler
