"""Running jobs: the threads that run the backup and restore engines for a job row.

Everything here is threads, nothing HTTP. The engines are synchronous and long; each job runs
in a thread of its own so the API's event loop never waits on it, and its progress reaches the
row through a ProgressWriter (jobs.progress) while status polls read the row through the pool.
The operation lock (an advisory lock on its own connection) is taken by the caller before the
job row exists and released here when the job ends, which is what makes "one at a time" hold
across processes and what makes start-up recovery (jobs.recovery) safe: if we hold the lock, no
other process has a live job. record_backup and take_safety_backup are the backups that run
inside someone else's operation (the CLI's backup into the store, a restore's undo).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from ..archive import ArchiveSource
from ..db.connection import failure_message
from ..db.locks import OperationLock
from ..errors import BackupdError, RestoreError, one_line
from ..progress import ProgressCallback
from ..store import Store, StoredArchive
from .progress import ProgressWriter
from .records import JobKind, JobRecords

if TYPE_CHECKING:
    from ..backup.engine import BackupResult

log = logging.getLogger("backupd.jobs")


@dataclass(frozen=True)
class RestoreRequest:
    """What a restore job was asked for (docs/restore-guarantees.md)."""

    tables: list[str] | None = None  # only these are replaced (None: the whole archive)
    safety_backup: bool = True
    dry_run: bool = False


def reuse_text(reuse: dict[str, int]) -> str:
    """`reused 12 parts (1,200,000 rows), read 2 parts (13,000 rows)` (a manifest's `reuse`)."""
    return (
        f"reused {reuse['parts_reused']} parts ({reuse['rows_reused']:,} rows),"
        f" read {reuse['parts_read']} parts ({reuse['rows_read']:,} rows)"
    )


def record_backup(
    store: JobRecords,
    lock: OperationLock,
    backup_id: str,
    target: StoredArchive,
    trigger: str,
    total_tables: int,
    make: Callable[[ProgressCallback], BackupResult],
) -> BackupResult:
    """Run `make` (a create_backup into `target`) as a backup job row with `trigger`, so that the
    list, retention and the page see every backup into the store, whoever started it.

    Holds a job lock of its own while it runs (a replica can tell the job is alive) beside the
    caller's operation lock. A failure marks the row failed, removes the object and re-raises.
    """
    lock.hold_job(backup_id)
    store.create_backup_job(backup_id, total_tables, trigger=trigger)
    try:
        store.mark_started("backup", backup_id, "running", file_path=target.location)
        result = make(ProgressWriter(store, "backup", backup_id, {"running": "running"}))
        store.complete_backup(
            backup_id,
            file_path=target.location,
            size_bytes=result.size_bytes,
            manifest=result.manifest.model_dump(mode="json", exclude_none=True, by_alias=True),
        )
    except BaseException as exc:
        with suppress(Exception):
            store.fail("backup", backup_id, one_line(exc))
        with suppress(Exception):
            target.delete()
        raise
    finally:
        with suppress(psycopg.Error):
            lock.release_job(backup_id)
    return result


def take_safety_backup(
    store: JobRecords,
    archives: Store,
    database_url: str,
    lock: OperationLock,
    tables: list[str],
    *,
    spool_dir: Path | None = None,
) -> str:
    """Back up `tables` as a completed backup job with trigger 'safety' (the restore's undo); its id.

    Runs inside the restore, under the restore's operation lock. If it fails, the restore fails
    before anything is swapped.
    """
    from ..backup.engine import create_backup
    from ..ids import uuid7

    backup_id = uuid7()
    target = archives.new_archive(backup_id)
    try:
        record_backup(
            store,
            lock,
            backup_id,
            target,
            "safety",
            len(tables),
            lambda _progress: create_backup(
                database_url,
                target,
                tables=tables,
                backup_id=backup_id,
                spool_dir=None if target.encrypted else spool_dir,
            ),
        )
    except BaseException as exc:
        raise RestoreError(f"the safety backup failed, nothing was changed: {one_line(exc)}") from exc
    return backup_id


@dataclass
class JobRunner:
    """Starts engine runs in threads and records their outcome in the job tables."""

    store: JobRecords
    database_url: str
    tables: tuple[str, ...]
    spool_dir: Path | None = None  # local scratch space of backups (see backup.SPOOL_LIMIT)
    archives: Store | None = None  # where safety backups go
    # Called with the job id after a backup completed, still holding the operation lock (retention).
    after_backup: Callable[[str], None] | None = None
    _threads: dict[str, threading.Thread] = field(default_factory=dict)

    def start_backup(self, job_id: str, target: StoredArchive, lock: OperationLock, *, full: bool = False) -> None:
        """Run create_backup into a store object for a pending job; `lock` is released when the job ends.

        The parts the new snapshot proves unchanged since the previous completed backup in the
        store are copied from it (docs/change-proportional-backups.md); `full` reads every row."""
        self._spawn(job_id, self._run_backup, job_id, target, lock, full)

    def start_restore(
        self,
        job_id: str,
        archive: ArchiveSource,
        lock: OperationLock,
        *,
        upload: Path | None = None,
        options: RestoreRequest | None = None,
    ) -> None:
        """Run restore_from_backup for a pending job; an uploaded file is removed afterwards."""
        self._spawn(job_id, self._run_restore, job_id, archive, lock, upload, options or RestoreRequest())

    def _spawn(self, job_id: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"backupd-job-{job_id[:8]}", daemon=True)
        self._threads[job_id] = thread
        thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Join running job threads (tests and shutdown); True when none is left running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads.values())

    def _run_backup(self, job_id: str, target: StoredArchive, lock: OperationLock, full: bool = False) -> None:
        from ..backup.engine import create_backup
        from ..backup.reuse import find_previous

        try:
            self.store.mark_started("backup", job_id, "running", file_path=target.location)
            target.store.abort_unfinished()  # we hold the operation lock: anything unfinished is dead
            result = create_backup(
                self.database_url,
                target,
                tables=self.tables,
                backup_id=job_id,
                spool_dir=None if target.encrypted else self.spool_dir,  # encrypted: parts wait in memory
                progress=ProgressWriter(self.store, "backup", job_id, {"running": "running"}),
                previous=None if full else find_previous(self.store, target.store),
                full=full,
            )
            self.store.complete_backup(
                job_id,
                file_path=target.location,
                size_bytes=result.size_bytes,
                manifest=result.manifest.model_dump(mode="json", exclude_none=True, by_alias=True),
            )
            reuse = result.manifest.reuse
            log.info(
                "backup %s completed: %s (%d bytes, %.1fs; %s)",
                job_id,
                target.location,
                result.size_bytes,
                result.seconds,
                "no reuse figures" if reuse is None else reuse_text(reuse.model_dump()),
            )
            if self.after_backup is not None:
                try:  # the backup is complete: nothing after this may fail it (or delete its archive)
                    self.after_backup(job_id)
                except Exception:
                    log.exception("after backup %s", job_id)
        except BaseException as exc:
            self._record_failure("backup", job_id, exc)
            with suppress(Exception):
                target.delete()  # a failed backup leaves no object behind
        finally:
            lock.close()
            self._threads.pop(job_id, None)

    def _run_restore(
        self, job_id: str, archive: ArchiveSource, lock: OperationLock, upload: Path | None, options: RestoreRequest
    ) -> None:
        from ..restore.engine import restore_from_backup

        def safety_backup(tables: list[str]) -> None:
            if self.archives is None:
                raise RestoreError("no store for the safety backup")
            backup_id = take_safety_backup(
                self.store, self.archives, self.database_url, lock, tables, spool_dir=self.spool_dir
            )
            self.store.set_safety_backup(job_id, backup_id)

        try:
            self.store.mark_started("restore", job_id, "validating")
            result = restore_from_backup(
                self.database_url,
                archive,
                tables=self.tables,
                only=options.tables,
                dry_run=options.dry_run,
                before_swap=safety_backup if options.safety_backup and not options.dry_run else None,
                progress=ProgressWriter(
                    self.store, "restore", job_id, {"validating": "validating", "restoring": "restoring"}
                ),
            )
            self.store.complete_restore(
                job_id,
                items_restored=None if options.dry_run else dict(result.items_restored),
                changes={k: c.as_dict() for k, c in result.changes.items()},
                dry_run=options.dry_run,
            )
            log.info(
                "restore %s completed%s: %s", job_id, " (dry run)" if options.dry_run else "", result.items_restored
            )
        except BaseException as exc:
            self._record_failure("restore", job_id, exc)
        finally:
            lock.close()
            if upload is not None:
                with suppress(OSError):
                    upload.unlink(missing_ok=True)
            self._threads.pop(job_id, None)

    def _record_failure(self, kind: JobKind, job_id: str, exc: BaseException) -> None:
        if isinstance(exc, BackupdError):
            log.warning("%s job %s failed: %s", kind, job_id, exc)
        else:
            log.exception("%s job %s failed unexpectedly", kind, job_id)
        try:
            self.store.fail(kind, job_id, failure_message(exc, self.database_url))
        except psycopg.Error:
            log.exception("could not record the failure of %s job %s", kind, job_id)
