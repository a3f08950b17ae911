"""The job tables, backupd.backup_jobs and backupd.restore_jobs, as SQL: one class, JobRecords.

Why apart from the runner: the API's routes, retention, the drills, the CLI and start-up
recovery read and write job rows without running any job, and the rules that keep a row
honest live in the SQL itself (progress and status only move forward, a finished job is never
touched again), so they are easiest to check in one place. Every query borrows a connection
from the pool for a moment (db.pool), never an engine's connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..db.connection import one_row
from ..db.locks import JOB_LOCK_CLASS
from ..db.pool import ConnectionPool
from ..ids import is_uuid

log = logging.getLogger("backupd.jobs")

JobKind = Literal["backup", "restore"]
_TABLES: dict[str, str] = {"backup": "backupd.backup_jobs", "restore": "backupd.restore_jobs"}
_ENUMS: dict[str, str] = {"backup": "backupd.backup_job_status", "restore": "backupd.restore_job_status"}
FINAL_STATUSES = ("completed", "failed")
# What JobRecords.on_finish is given of a finished row.
_FINISHED: dict[str, str] = {
    "backup": "id, status::text AS status, error_message, started_at, completed_at, trigger",
    "restore": "id, status::text AS status, error_message, started_at, completed_at, dry_run",
}


def restores_what_it_holds(row: dict[str, Any] | None) -> bool:
    """Whether restoring this backup with no table list restores exactly the tables it holds.

    True for a safety backup: it holds only the tables its restore replaced, so undoing that restore
    must not touch (or demand) the rest of the configured set. Every other backup restores the set.
    """
    return row is not None and row.get("trigger") == "safety"


class JobRecords:
    """CRUD on backup_jobs / restore_jobs. Rows come back as dicts keyed by column name."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        # Told of every job this store finishes, with its row (serve: the notifier, which only enqueues).
        self.on_finish: Callable[[str, dict[str, Any]], None] | None = None

    def _finished(self, kind: JobKind, row: dict[str, Any] | None) -> None:
        if row is not None and self.on_finish is not None:
            try:
                self.on_finish(kind, row)
            except Exception:  # telling must never fail the job
                log.exception("could not report the end of %s job %s", kind, row.get("id"))

    def _one(self, query: str, params: list[Any]) -> dict[str, Any] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchone()

    def _inserted(self, query: str, params: list[Any]) -> dict[str, Any]:
        """The row an INSERT … RETURNING * created."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return one_row(cur.execute(query, params))

    def _all(self, query: str, params: list[Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    # -- creation and reads ------------------------------------------------------------------

    def create_backup_job(self, job_id: str, total_tables: int, trigger: str = "manual") -> dict[str, Any]:
        """A pending backup job; `trigger` is manual, schedule or safety (docs/operations.md)."""
        return self._inserted(
            "INSERT INTO backupd.backup_jobs (id, total_tables, trigger) VALUES (%s, %s, %s) RETURNING *",
            [job_id, total_tables, trigger],
        )

    def set_pinned(self, job_id: str, pinned: bool) -> dict[str, Any] | None:
        """Pin or unpin a backup (retention never removes a pinned one); None when there is no such job."""
        if not is_uuid(job_id):
            return None
        return self._one("UPDATE backupd.backup_jobs SET pinned = %s WHERE id = %s RETURNING *", [pinned, job_id])

    def create_restore_job(
        self,
        job_id: str,
        total_tables: int,
        backup_id: str | None,
        backup_created_at: Any,
        *,
        dry_run: bool = False,
        tables: list[str] | None = None,
    ) -> dict[str, Any]:
        return self._inserted(
            "INSERT INTO backupd.restore_jobs (id, total_tables, backup_id, backup_created_at, dry_run, tables)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
            [job_id, total_tables, (backup_id or None) and backup_id[:64], backup_created_at, dry_run, tables],
        )

    def set_safety_backup(self, job_id: str, backup_id: str) -> None:
        self._one(
            "UPDATE backupd.restore_jobs SET safety_backup_id = %s WHERE id = %s RETURNING id", [backup_id, job_id]
        )

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

    def update_progress(
        self,
        kind: JobKind,
        job_id: str,
        *,
        status: str | None,
        percent: int,
        completed_tables: int,
        total_tables: int,
        step: str | None,
    ) -> None:
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

    def complete_backup(self, job_id: str, *, file_path: str, size_bytes: int, manifest: dict[str, Any]) -> None:
        row = self._one(
            "UPDATE backupd.backup_jobs SET status = 'completed', completed_at = now(), progress_percent = 100,"
            " completed_tables = total_tables, current_step = 'Backup complete',"
            " file_path = %s, file_size_bytes = %s, manifest_json = %s, error_message = NULL"
            " WHERE id = %s AND status NOT IN ('completed', 'failed') RETURNING " + _FINISHED["backup"],
            [file_path, size_bytes, Jsonb(manifest), job_id],
        )
        self._finished("backup", row)

    def complete_restore(
        self,
        job_id: str,
        *,
        items_restored: dict[str, int] | None,
        changes: dict[str, dict[str, int]] | None = None,
        dry_run: bool = False,
    ) -> None:
        """A dry run ends `completed` with current_step 'Dry run complete' and no items_restored."""
        row = self._one(
            "UPDATE backupd.restore_jobs SET status = 'completed', completed_at = now(), progress_percent = 100,"
            " completed_tables = total_tables, current_step = %s,"
            " items_restored = %s, changes = %s, error_message = NULL"
            " WHERE id = %s AND status NOT IN ('completed', 'failed') RETURNING " + _FINISHED["restore"],
            [
                "Dry run complete" if dry_run else "Restore complete",
                None if items_restored is None else Jsonb(items_restored),
                None if changes is None else Jsonb(changes),
                job_id,
            ],
        )
        self._finished("restore", row)

    def fail(self, kind: JobKind, job_id: str, message: str) -> bool:
        """Mark an unfinished job failed; False when it had finished already."""
        row = self._one(
            f"UPDATE {_TABLES[kind]} SET status = 'failed', completed_at = now(), error_message = %s"
            " WHERE id = %s AND status NOT IN ('completed', 'failed') RETURNING " + _FINISHED[kind],
            [message, job_id],
        )
        self._finished(kind, row)
        return row is not None

    def unfinished_jobs(self) -> list[tuple[JobKind, dict[str, Any]]]:
        found: list[tuple[JobKind, dict[str, Any]]] = []
        for kind in ("backup", "restore"):
            rows = self._all(f"SELECT * FROM {_TABLES[kind]} WHERE status NOT IN ('completed', 'failed')", [])
            found += [(kind, row) for row in rows]
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
