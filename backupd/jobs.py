"""Backup and restore jobs: the job tables (seed §2) and the runner that executes the engines.

Everything here is SQL and threads, nothing HTTP. The engines are synchronous and long; each job
runs in a thread of its own so the API's event loop never waits on it. Job-table reads and writes
use short borrowings from a small connection pool, never the engine's connection, so status polls
stay fast while a large backup streams. The operation lock (an advisory lock on its own
connection) is taken by the caller before the job row exists and released by the runner when
the job ends, which is what makes "one at a time" hold across processes and what makes start-up
recovery safe (if we hold the lock, no other process has a live job).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .archive import ArchiveSource
from .database import connect
from .errors import BackupdError, BusyError, RestoreError, one_line
from .ids import is_uuid
from .locking import JOB_LOCK_CLASS, OperationLock, job_lock_key, try_operation_lock
from .progress import Progress, ProgressCallback
from .store import Store, StoredArchive

if TYPE_CHECKING:
    from .backup import BackupResult

log = logging.getLogger("backupd.jobs")

JobKind = Literal["backup", "restore"]
_TABLES: dict[str, str] = {"backup": "backupd.backup_jobs", "restore": "backupd.restore_jobs"}
_ENUMS: dict[str, str] = {"backup": "backupd.backup_job_status", "restore": "backupd.restore_job_status"}
FINAL_STATUSES = ("completed", "failed")
PROGRESS_WRITE_INTERVAL = 0.25  # seconds: at most ~4 progress writes a second per job
INTERRUPTED_MESSAGE = (
    "Interrupted: the backupd process running this job stopped before it finished"
)
REAP_INTERVAL = 10.0  # seconds between looks for jobs of stopped processes (CONTRACT §8: within 60 s)
UPLOAD_PARTIAL_GLOB = ".upload-*.partial"


# --------------------------------------------------------------------------------------------
# Connections


class ConnectionPool:
    """A few idle autocommit connections reused for short job-table queries.

    psycopg_pool is not a dependency; this is all the API needs: borrow, use, give back, and
    drop a connection that broke (the database restarting must not poison the pool).
    """

    def __init__(self, database_url: str, max_idle: int = 8) -> None:
        self.database_url = database_url
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._max_idle = max_idle
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        conn = self._take()
        try:
            yield conn
        except BaseException:
            conn.close()  # state unknown after an error: never hand it out again
            raise
        else:
            if self._closed or conn.closed or conn.broken or self._idle.qsize() >= self._max_idle:
                conn.close()
            else:
                self._idle.put(conn)

    def _take(self) -> psycopg.Connection:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return connect(self.database_url, application_name="backupd-jobs")
            if not (conn.closed or conn.broken):
                return conn

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


# --------------------------------------------------------------------------------------------
# The job tables


class JobStore:
    """CRUD on backup_jobs / restore_jobs. Rows come back as dicts keyed by column name."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def _one(self, query: str, params: list[Any]) -> dict[str, Any] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchone()

    def _all(self, query: str, params: list[Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    # -- creation and reads ------------------------------------------------------------------

    def create_backup_job(self, job_id: str, total_tables: int, trigger: str = "manual") -> dict[str, Any]:
        """A pending backup job; `trigger` is manual, schedule or safety (CONTRACT §9)."""
        return self._one(
            "INSERT INTO backupd.backup_jobs (id, total_tables, trigger) VALUES (%s, %s, %s) RETURNING *",
            [job_id, total_tables, trigger],
        )  # type: ignore[return-value]

    def set_pinned(self, job_id: str, pinned: bool) -> dict[str, Any] | None:
        """Pin or unpin a backup (retention never removes a pinned one); None when there is no such job."""
        if not is_uuid(job_id):
            return None
        return self._one("UPDATE backupd.backup_jobs SET pinned = %s WHERE id = %s RETURNING *", [pinned, job_id])

    def create_restore_job(self, job_id: str, total_tables: int, backup_id: str | None,
                           backup_created_at: Any, *, dry_run: bool = False,
                           tables: list[str] | None = None) -> dict[str, Any]:
        return self._one(
            "INSERT INTO backupd.restore_jobs (id, total_tables, backup_id, backup_created_at, dry_run, tables)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
            [job_id, total_tables, (backup_id or None) and backup_id[:64], backup_created_at, dry_run, tables],
        )  # type: ignore[return-value]

    def set_safety_backup(self, job_id: str, backup_id: str) -> None:
        self._one("UPDATE backupd.restore_jobs SET safety_backup_id = %s WHERE id = %s RETURNING id", [backup_id, job_id])

    def get(self, kind: JobKind, job_id: str) -> dict[str, Any] | None:
        """The job row, or None (also for text that is not a UUID: callers answer 404 either way)."""
        if not is_uuid(job_id):
            return None
        return self._one(f"SELECT * FROM {_TABLES[kind]} WHERE id = %s", [job_id])

    def list_completed_backups(self) -> list[dict[str, Any]]:
        return self._all(
            "SELECT * FROM backupd.backup_jobs WHERE status = 'completed' ORDER BY created_at DESC, id DESC", []
        )

    def delete_backup_job(self, job_id: str) -> bool:
        """Delete a finished job's row; False when it is gone or (re)started meanwhile."""
        row = self._one(
            "DELETE FROM backupd.backup_jobs WHERE id = %s AND status IN ('completed', 'failed') RETURNING id", [job_id]
        )
        return row is not None

    # -- progress and outcome ----------------------------------------------------------------

    def mark_started(self, kind: JobKind, job_id: str, status: str, file_path: str | None = None) -> None:
        extra = ", file_path = %s" if file_path is not None else ""
        params: list[Any] = [status] + ([file_path] if file_path is not None else []) + [job_id]
        self._one(
            f"UPDATE {_TABLES[kind]} SET status = %s, started_at = now(){extra}"
            " WHERE id = %s AND status = 'pending' RETURNING id",
            params,
        )

    def update_progress(self, kind: JobKind, job_id: str, *, status: str | None, percent: int,
                        completed_tables: int, total_tables: int, step: str | None) -> None:
        """Persist progress; every number only moves forward (GREATEST), status too (enum order).

        The enum order is pending < running|validating < restoring < completed < failed, so
        GREATEST never moves a restore back from 'restoring' to 'validating'. Finished jobs are
        left alone, and percent stays below 100 until the job completes.
        """
        table, enum = _TABLES[kind], _ENUMS[kind]
        self._one(
            f"UPDATE {table} SET"
            f" status = GREATEST(status, coalesce(%s::{enum}, status)),"
            " progress_percent = GREATEST(progress_percent, least(%s, 99)),"
            " completed_tables = GREATEST(completed_tables, %s),"
            " total_tables = %s,"
            " current_step = coalesce(left(%s, 255), current_step)"
            " WHERE id = %s AND status NOT IN ('completed', 'failed') RETURNING id",
            [status, percent, completed_tables, total_tables, step, job_id],
        )

    def complete_backup(self, job_id: str, *, file_path: str, size_bytes: int,
                        manifest: dict[str, Any]) -> None:
        self._one(
            "UPDATE backupd.backup_jobs SET status = 'completed', completed_at = now(), progress_percent = 100,"
            " completed_tables = total_tables, current_step = 'Backup complete',"
            " file_path = %s, file_size_bytes = %s, manifest_json = %s, error_message = NULL"
            " WHERE id = %s AND status NOT IN ('completed', 'failed') RETURNING id",
            [file_path, size_bytes, Jsonb(manifest), job_id],
        )

    def complete_restore(self, job_id: str, *, items_restored: dict[str, int] | None,
                         changes: dict[str, dict[str, int]] | None = None, dry_run: bool = False) -> None:
        """A dry run ends `completed` with current_step 'Dry run complete' and no items_restored."""
        self._one(
            "UPDATE backupd.restore_jobs SET status = 'completed', completed_at = now(), progress_percent = 100,"
            " completed_tables = total_tables, current_step = %s,"
            " items_restored = %s, changes = %s, error_message = NULL"
            " WHERE id = %s AND status NOT IN ('completed', 'failed') RETURNING id",
            ["Dry run complete" if dry_run else "Restore complete",
             None if items_restored is None else Jsonb(items_restored),
             None if changes is None else Jsonb(changes), job_id],
        )

    def fail(self, kind: JobKind, job_id: str, message: str) -> bool:
        """Mark an unfinished job failed; False when it had finished already."""
        return self._one(
            f"UPDATE {_TABLES[kind]} SET status = 'failed', completed_at = now(), error_message = %s"
            " WHERE id = %s AND status NOT IN ('completed', 'failed') RETURNING id",
            [message, job_id],
        ) is not None

    def unfinished_jobs(self) -> list[tuple[JobKind, dict[str, Any]]]:
        found: list[tuple[JobKind, dict[str, Any]]] = []
        for kind in ("backup", "restore"):
            rows = self._all(f"SELECT * FROM {_TABLES[kind]} WHERE status NOT IN ('completed', 'failed')", [])
            found += [(kind, row) for row in rows]  # type: ignore[misc]
        return found

    def held_job_locks(self) -> set[int]:
        """Keys of the job locks some live session of this database holds (see job_lock_key)."""
        rows = self._all(
            "SELECT objid::bigint AS key FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objsubid = 2",
            [JOB_LOCK_CLASS],
        )
        return {int(r["key"]) for r in rows}


# --------------------------------------------------------------------------------------------
# Progress from the engine thread to the job row


class ProgressWriter:
    """An engine progress callback that persists to the job row, throttled.

    A write happens when the step, phase or table count changes (a handful per job) or when the
    percent moved and PROGRESS_WRITE_INTERVAL has passed, so a backup streaming thousands of
    chunks costs a few row updates a second, not one per chunk.
    """

    def __init__(self, store: JobStore, kind: JobKind, job_id: str,
                 phase_status: dict[str, str] | None = None) -> None:
        self.store, self.kind, self.job_id = store, kind, job_id
        self.phase_status = phase_status or {}
        self._last: tuple[str, str, int] | None = None
        self._last_percent = -1
        self._last_time = 0.0

    def __call__(self, p: Progress) -> None:
        if p.phase not in self.phase_status and p.percent >= 100:
            return  # the engine's own "finished" report; the runner completes the row itself
        key = (p.phase, p.step, p.completed_tables)
        now = time.monotonic()
        if key == self._last and (p.percent <= self._last_percent
                                  or now - self._last_time < PROGRESS_WRITE_INTERVAL):
            return
        self._last, self._last_percent, self._last_time = key, p.percent, now
        try:
            self.store.update_progress(
                self.kind, self.job_id, status=self.phase_status.get(p.phase), percent=p.percent,
                completed_tables=p.completed_tables, total_tables=p.total_tables, step=p.step,
            )
        except psycopg.Error as exc:  # progress is best effort; the job itself must go on
            log.warning("could not record progress of %s job %s: %s", self.kind, self.job_id, exc)


# --------------------------------------------------------------------------------------------
# Running jobs


@dataclass(frozen=True)
class RestoreRequest:
    """What a restore job was asked for (CONTRACT §11)."""

    tables: list[str] | None = None  # only these are replaced (None: the whole archive)
    safety_backup: bool = True
    dry_run: bool = False


def record_backup(store: JobStore, lock: OperationLock, backup_id: str, target: StoredArchive, trigger: str,
                  total_tables: int, make: Callable[[ProgressCallback], BackupResult]) -> BackupResult:
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
        store.complete_backup(backup_id, file_path=target.location, size_bytes=result.size_bytes,
                              manifest=result.manifest.model_dump(mode="json", exclude_none=True, by_alias=True))
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


def take_safety_backup(store: JobStore, archives: Store, database_url: str, lock: OperationLock,
                       tables: list[str], *, spool_dir: Path | None = None) -> str:
    """Back up `tables` as a completed backup job with trigger 'safety' (the restore's undo); its id.

    Runs inside the restore, under the restore's operation lock. If it fails, the restore fails
    before anything is swapped.
    """
    from .backup import create_backup
    from .ids import uuid7

    backup_id = uuid7()
    target = archives.new_archive(backup_id)
    try:
        record_backup(store, lock, backup_id, target, "safety", len(tables),
                      lambda _progress: create_backup(database_url, target, tables=tables, backup_id=backup_id,
                                                      spool_dir=None if target.encrypted else spool_dir))
    except BaseException as exc:
        raise RestoreError(f"the safety backup failed, nothing was changed: {one_line(exc)}") from exc
    return backup_id


@dataclass
class JobRunner:
    """Starts engine runs in threads and records their outcome in the job tables."""

    store: JobStore
    database_url: str
    tables: tuple[str, ...]
    spool_dir: Path | None = None  # local scratch space of backups (see backup.SPOOL_LIMIT)
    archives: Store | None = None  # where safety backups go
    # Called with the job id after a backup completed, still holding the operation lock (retention).
    after_backup: Callable[[str], None] | None = None
    _threads: dict[str, threading.Thread] = field(default_factory=dict)

    def start_backup(self, job_id: str, target: StoredArchive, lock: OperationLock) -> None:
        """Run create_backup into a store object for a pending job; `lock` is released when the job ends."""
        self._spawn(job_id, self._run_backup, job_id, target, lock)

    def start_restore(self, job_id: str, archive: ArchiveSource, lock: OperationLock, *,
                      upload: Path | None = None, options: RestoreRequest | None = None) -> None:
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

    def _run_backup(self, job_id: str, target: StoredArchive, lock: OperationLock) -> None:
        from .backup import create_backup

        try:
            self.store.mark_started("backup", job_id, "running", file_path=target.location)
            target.store.abort_unfinished()  # we hold the operation lock: anything unfinished is dead
            result = create_backup(
                self.database_url, target, tables=self.tables, backup_id=job_id,
                spool_dir=None if target.encrypted else self.spool_dir,  # encrypted: parts wait in memory
                progress=ProgressWriter(self.store, "backup", job_id, {"running": "running"}),
            )
            self.store.complete_backup(
                job_id, file_path=target.location, size_bytes=result.size_bytes,
                manifest=result.manifest.model_dump(mode="json", exclude_none=True, by_alias=True),
            )
            log.info("backup %s completed: %s (%d bytes, %.1fs)", job_id, target.location, result.size_bytes,
                     result.seconds)
            if self.after_backup is not None:
                try:  # the backup is complete: nothing after this may fail it (or delete its archive)
                    self.after_backup(job_id)
                except Exception:  # noqa: BLE001
                    log.exception("after backup %s", job_id)
        except BaseException as exc:
            self._record_failure("backup", job_id, exc)
            with suppress(Exception):
                target.delete()  # a failed backup leaves no object behind
        finally:
            lock.close()
            self._threads.pop(job_id, None)

    def _run_restore(self, job_id: str, archive: ArchiveSource, lock: OperationLock, upload: Path | None,
                     options: RestoreRequest) -> None:
        from .restore import restore_from_backup

        def safety_backup(tables: list[str]) -> None:
            if self.archives is None:
                raise RestoreError("no store for the safety backup")
            backup_id = take_safety_backup(self.store, self.archives, self.database_url, lock, tables,
                                           spool_dir=self.spool_dir)
            self.store.set_safety_backup(job_id, backup_id)

        try:
            self.store.mark_started("restore", job_id, "validating")
            result = restore_from_backup(
                self.database_url, archive, tables=self.tables, only=options.tables, dry_run=options.dry_run,
                before_swap=safety_backup if options.safety_backup and not options.dry_run else None,
                progress=ProgressWriter(self.store, "restore", job_id,
                                        {"validating": "validating", "restoring": "restoring"}),
            )
            self.store.complete_restore(
                job_id, items_restored=None if options.dry_run else dict(result.items_restored),
                changes={k: c.as_dict() for k, c in result.changes.items()}, dry_run=options.dry_run)
            log.info("restore %s completed%s: %s", job_id, " (dry run)" if options.dry_run else "",
                     result.items_restored)
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
            self.store.fail(kind, job_id, one_line(exc))
        except psycopg.Error:
            log.exception("could not record the failure of %s job %s", kind, job_id)


# --------------------------------------------------------------------------------------------
# Start-up recovery


@dataclass(frozen=True)
class Recovery:
    skipped: bool  # another process holds the operation lock: files and uploads were left alone
    failed_jobs: list[str]
    removed_files: list[Path]
    aborted_uploads: int = 0


def reap_orphaned_jobs(store: JobStore, archives: Store | None = None) -> list[str]:
    """Mark failed every unfinished job whose owner is gone; return their ids.

    Each running job's process holds an advisory lock keyed by the job id (taken before its row
    exists, see OperationLock.hold_job) for as long as the job runs, and PostgreSQL drops it the
    moment that process's session ends (SIGKILL included). So a job row without its lock belongs
    to a dead process, whichever replica looks, while jobs of live replicas are left alone.
    Rows are read before the locks: a job created in between is simply not looked at.
    """
    unfinished = store.unfinished_jobs()
    if not unfinished:
        return []
    held = store.held_job_locks()
    failed: list[str] = []
    for kind, row in unfinished:
        job_id = str(row["id"])
        if job_lock_key(job_id) in held:
            continue
        if store.fail(kind, job_id, INTERRUPTED_MESSAGE):
            failed.append(job_id)
            name = archives.name_of(row["file_path"]) if archives and kind == "backup" and row["file_path"] else None
            if name:
                with suppress(Exception):
                    archives.delete(name)  # written completely but never recorded: not a backup
    if failed:
        log.warning("marked %d job(s) of stopped processes failed: %s", len(failed), ", ".join(failed))
    return failed


def recover_interrupted_jobs(store: JobStore, database_url: str, archives: Store, uploads_dir: Path) -> Recovery:
    """Start-up recovery: fail jobs of dead processes, then, if no job runs anywhere, remove what
    interrupted writes left (partial files, unfinished multipart uploads, stale uploads)."""
    failed = reap_orphaned_jobs(store, archives)
    try:
        lock = try_operation_lock(database_url)
    except BusyError:
        log.info("another backupd process is running a job; clean-up of unfinished files skipped")
        return Recovery(True, failed, [])
    removed: list[Path] = []
    try:
        aborted = archives.abort_unfinished()
        if uploads_dir.is_dir():
            for path in uploads_dir.glob(UPLOAD_PARTIAL_GLOB):
                removed += _remove(path)
            for path in uploads_dir.glob("*.zip"):  # no restore is running anywhere: all stale
                removed += _remove(path)
    finally:
        lock.close()
    if removed or aborted:
        log.warning("start-up recovery: %d stale upload file(s) removed, %d unfinished write(s) aborted",
                    len(removed), aborted)
    return Recovery(False, failed, removed, aborted)


class JobReaper:
    """A daemon thread that runs reap_orphaned_jobs every `interval` seconds (replicas, §8)."""

    def __init__(self, store: JobStore, archives: Store, interval: float = REAP_INTERVAL) -> None:
        self._store, self._archives, self._interval = store, archives, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backupd-reaper", daemon=True)

    def start(self) -> JobReaper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                reap_orphaned_jobs(self._store, self._archives)
            except Exception as exc:  # noqa: BLE001 - a database outage must not end the thread
                log.warning("could not look for jobs of stopped processes: %s", one_line(exc))


def _remove(path: Path) -> list[Path]:
    try:
        path.unlink()
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
        return []
    return [path]
