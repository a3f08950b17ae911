"""The composition root: every long-lived object backupd runs with is built here, and only here.

`serve` builds the whole service (`open_services`): job records, the runner, schedules, drills, the
scheduler, and the recovery of jobs a dead process left behind. The command line needs less — a pool,
the job records and the archive store — and gets exactly that from `open_local` (a subset of the same
objects, built the same way), so a backup or restore started from a terminal records its job and takes
its locks exactly as one started through the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .db.connection import connect, resolve_database_url
from .db.migrations import apply_migrations, ensure_schema
from .db.pool import ConnectionPool
from .jobs import JobRecords, JobRunner, recover_interrupted_jobs
from .store import Store

if TYPE_CHECKING:  # imported by open_services: a command (open_local) never loads them
    from .drill.service import DrillService
    from .notify import Notifier
    from .schedule.scheduler import Scheduler
    from .schedule.settings import ScheduleRecords


@dataclass
class LocalServices:
    """What one command needs from backupd's own state: a pool on the database, its job records, the store."""

    settings: Settings
    database_url: str
    pool: ConnectionPool
    jobs: JobRecords
    archives: Store

    @property
    def uploads_dir(self) -> Path:
        """Uploaded archives wait here for their restore job (local disk, whatever the store)."""
        return self.settings.data_dir / "uploads"

    def object_name(self, row: dict[str, Any]) -> str | None:
        """The store object of a backup job row (None when it lives in another store, or nowhere)."""
        return self.archives.name_of(row["file_path"]) if row.get("file_path") else None


@dataclass
class Services(LocalServices):
    """The whole service `serve` runs: the local part plus the job runner and the automation."""

    runner: JobRunner
    # Built after the runner (they hand it work): automatic backups, retention, drills (docs/operations.md).
    schedules: ScheduleRecords = field(init=False)
    drills: DrillService = field(init=False)
    scheduler: Scheduler = field(init=False)
    notifier: Notifier = field(init=False)  # told of finished jobs, missed times, staleness (docs/operations.md)


@contextmanager
def open_local(settings: Settings, database_url: str) -> Iterator[LocalServices]:
    """Backupd's schema (created on first use), a pool on it, the job records and the archive store."""
    ensure_schema(database_url)
    pool = ConnectionPool(database_url)
    try:
        yield LocalServices(settings, database_url, pool, JobRecords(pool), settings.open_store())
    finally:
        pool.close()


def open_services(settings: Settings) -> Services:
    """Resolve and migrate the database, build the service, recover jobs a dead process left behind.

    Blocking (the app's lifespan runs it on a worker thread). The caller closes `services.pool`.
    """
    from .notify import build_notifier
    from .schedule.scheduler import build_automation

    url = resolve_database_url(settings)
    with connect(url, application_name="backupd-migrate") as conn:
        apply_migrations(conn)
    pool = ConnectionPool(url)
    jobs = JobRecords(pool)
    archives = settings.open_store()
    runner = JobRunner(jobs, url, tuple(settings.tables), spool_dir=settings.spool_dir, archives=archives)
    services = Services(settings, url, pool, jobs, archives, runner)
    services.notifier = build_notifier(settings, pool)  # started by the app's lifespan; enqueues until then
    jobs.on_finish = services.notifier.job_finished
    recover_interrupted_jobs(jobs, url, archives, services.uploads_dir)
    services.schedules, services.drills, services.scheduler = build_automation(
        settings, url, pool, jobs, runner, archives
    )
    services.drills.store.on_finish = services.notifier.job_finished
    services.scheduler.on_missed = services.notifier.schedule_missed
    services.drills.reap()  # drills a stopped process left running
    return services
