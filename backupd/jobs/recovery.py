"""Jobs whose process died: failing their rows and removing what their interrupted writes left.

Why apart from the runner: this runs where no job of ours is running, once at start-up
(recover_interrupted_jobs) and then every REAP_INTERVAL seconds on a thread (JobReaper), and it
decides by the job locks PostgreSQL holds for live processes (db.locks), not by anything this
process remembers, so that any replica can reap the jobs of any other that died.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..db.locks import job_lock_key, try_operation_lock
from ..errors import BusyError, one_line
from ..store import Store
from .records import JobRecords

log = logging.getLogger("backupd.jobs")

INTERRUPTED_MESSAGE = "Interrupted: the backupd process running this job stopped before it finished"
REAP_INTERVAL = 10.0  # seconds between looks for jobs of stopped processes (docs/operations.md: within 60 s)
UPLOAD_PARTIAL_GLOB = ".upload-*.partial"


@dataclass(frozen=True)
class Recovery:
    skipped: bool  # another process holds the operation lock: files and uploads were left alone
    failed_jobs: list[str]
    removed_files: list[Path]
    aborted_uploads: int = 0


def reap_orphaned_jobs(store: JobRecords, archives: Store | None = None) -> list[str]:
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
            if name and archives:
                with suppress(Exception):
                    archives.delete(name)  # written completely but never recorded: not a backup
    if failed:
        log.warning("marked %d job(s) of stopped processes failed: %s", len(failed), ", ".join(failed))
    return failed


def recover_interrupted_jobs(store: JobRecords, database_url: str, archives: Store, uploads_dir: Path) -> Recovery:
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
        log.warning(
            "start-up recovery: %d stale upload file(s) removed, %d unfinished write(s) aborted", len(removed), aborted
        )
    return Recovery(False, failed, removed, aborted)


class JobReaper:
    """A daemon thread that runs reap_orphaned_jobs every `interval` seconds (replicas, §8)."""

    def __init__(self, store: JobRecords, archives: Store, interval: float = REAP_INTERVAL) -> None:
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
            except Exception as exc:  # a database outage must not end the thread
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
