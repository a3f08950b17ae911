"""Restore drills as a service (docs/operations.md): history in `drill_runs`, one drill at a time, a runner thread.

The drill itself is drill.run_drill (restore into BACKUPD_DRILL_DATABASE_URL, re-export, compare
checksums), reading the backup straight from the store. Around it this module adds what a service
needs: refusal of a drill database that is the application database (however the two URLs are
spelt), one drill at a time across replicas (an advisory lock on the application database, taken
before the row exists, as backups do), a per-drill job lock so any replica can tell a live drill
from one whose process died, and the history rows the API and the page read.
"""

from __future__ import annotations

import builtins
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.abc import ConnDict
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..db.connection import connect, one_row
from ..db.locks import OperationLock, job_lock_key
from ..db.pool import ConnectionPool
from ..errors import BackupdError, BusyError, one_line
from ..ids import is_uuid
from ..jobs import JobRecords
from ..jobs.launch import launch_job
from ..store import Store

log = logging.getLogger("backupd.drills")

DRILL_LOCK_KEY = 0x6472696C6C  # "drill": one drill at a time per application database
DRILL_BUSY = "Another restore drill is already running"
NOT_CONFIGURED = "No drill database configured: set BACKUPD_DRILL_DATABASE_URL to a staging database"
SAME_DATABASE = (
    "Refusing to drill into the application database: BACKUPD_DRILL_DATABASE_URL must name "
    "a separate staging database (a drill replaces its data)"
)
INTERRUPTED = "Interrupted: the backupd process running this drill stopped before it finished"
FINAL = ("passed", "failed")


class DrillRefused(BackupdError):
    """The drill cannot start: no drill database, the application database, a backup not completed."""


def try_drill_lock(database_url: str) -> OperationLock:
    """The drill lock on its own connection, or BusyError at once."""
    conn = connect(database_url, application_name="backupd-drill-lock")
    try:
        got = one_row(conn.execute("SELECT pg_try_advisory_lock(%s)", [DRILL_LOCK_KEY]))[0]
    except BaseException:
        conn.close()
        raise
    if not got:
        conn.close()
        raise BusyError(DRILL_BUSY)
    return OperationLock(conn)


def _same_address(a: str, b: str) -> bool:
    pa, pb = conninfo_to_dict(a), conninfo_to_dict(b)

    def host(p: ConnDict) -> str:
        return str(p.get("host") or "localhost").replace("127.0.0.1", "localhost")

    return (host(pa), str(pa.get("port") or 5432), pa.get("dbname")) == (
        host(pb),
        str(pb.get("port") or 5432),
        pb.get("dbname"),
    )


def is_same_database(app_url: str, drill_url: str) -> bool:
    """True when both URLs reach the same database of the same server, however they are written.

    A connection to the application database announces a random application_name; if a session
    of the drill URL's database sees that name in its own database's pg_stat_activity, they are one.
    An unreachable drill database is not the application database (the drill then fails and says why).
    """
    if _same_address(app_url, drill_url):
        return True
    token = f"backupd-identity-{uuid.uuid4().hex[:16]}"
    try:
        with (
            psycopg.connect(app_url, application_name=token, autocommit=True, connect_timeout=10),
            psycopg.connect(drill_url, autocommit=True, connect_timeout=10) as other,
        ):
            row = other.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
                [token],
            ).fetchone()
            return bool(row and row[0])
    except psycopg.Error:
        return False


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10):
            return True
    except psycopg.Error:
        return False


# --------------------------------------------------------------------------------------------


class DrillRecords:
    """SQL on drill_runs."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.on_finish: Callable[[str, dict[str, Any]], None] | None = None  # serve: the notifier (enqueues)

    def _one(self, query: str, params: list[Any]) -> dict[str, Any] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchone() if cur.description else None

    def create(self, drill_id: str, backup_id: str, trigger: str = "manual") -> dict[str, Any] | None:
        """A pending drill of a completed backup; None when the backup is not (or no longer) there.

        The share lock on the backup's row makes a concurrent prune wait, then see this drill."""
        with self.pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            backup = cur.execute(
                "SELECT id FROM backupd.backup_jobs WHERE id = %s AND status = 'completed' FOR SHARE", [backup_id]
            ).fetchone()
            if backup is None:
                return None
            return cur.execute(
                "INSERT INTO backupd.drill_runs (id, backup_id, trigger) VALUES (%s, %s, %s) RETURNING *",
                [drill_id, backup_id, trigger],
            ).fetchone()

    def claim_scheduled(self, slot: datetime, drill_id: str) -> dict[str, Any] | None:
        """Claim a scheduled drill time and create its drill of the newest completed backup, or None
        (the time was claimed by another replica, or there is no completed backup yet)."""
        with self.pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            newest = cur.execute(
                "SELECT id FROM backupd.backup_jobs WHERE status = 'completed'"
                " ORDER BY created_at DESC, id DESC LIMIT 1 FOR SHARE"
            ).fetchone()
            if newest is None:
                return None
            claimed = cur.execute(
                "INSERT INTO backupd.schedule_slots (kind, scheduled_for, job_id)"
                " VALUES ('drill', %s, %s) ON CONFLICT DO NOTHING RETURNING job_id",
                [slot, drill_id],
            ).fetchone()
            if claimed is None:
                return None
            return cur.execute(
                "INSERT INTO backupd.drill_runs (id, backup_id, trigger) VALUES (%s, %s, 'schedule') RETURNING *",
                [drill_id, newest["id"]],
            ).fetchone()

    def get(self, drill_id: str) -> dict[str, Any] | None:
        if not is_uuid(drill_id):
            return None
        return self._one("SELECT * FROM backupd.drill_runs WHERE id = %s", [drill_id])

    def list(self, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT * FROM backupd.drill_runs ORDER BY created_at DESC, id DESC LIMIT %s", [limit]
            ).fetchall()
            total = one_row(cur.execute("SELECT count(*) AS n FROM backupd.drill_runs"))["n"]
        return rows, total

    def mark_running(self, drill_id: str) -> None:
        self._one(
            "UPDATE backupd.drill_runs SET status = 'running', started_at = now() WHERE id = %s AND status = 'pending'",
            [drill_id],
        )

    def finish(self, drill_id: str, status: str, tables: dict[str, Any], error: str | None) -> bool:
        row = self._one(
            "UPDATE backupd.drill_runs SET status = %s, completed_at = now(), tables = %s, error_message = %s"
            " WHERE id = %s AND status IN ('pending', 'running')"
            " RETURNING id, status, trigger, error_message, started_at, completed_at",
            [status, Jsonb(tables), error, drill_id],
        )
        if row is not None and self.on_finish is not None:
            try:
                self.on_finish("drill", row)
            except Exception:  # telling must never fail the drill
                log.exception("could not report the end of drill %s", drill_id)
        return row is not None

    def unfinished(self) -> builtins.list[dict[str, Any]]:  # `list` is the method here
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT id::text AS id FROM backupd.drill_runs WHERE status IN ('pending', 'running')"
            ).fetchall()


# --------------------------------------------------------------------------------------------


@dataclass
class DrillService:
    """Starts drills in threads and records them; `database_url` is the application database."""

    database_url: str
    drill_url: str | None
    store: DrillRecords
    jobs: JobRecords
    archives: Store
    tables: tuple[str, ...]
    _threads: dict[str, threading.Thread] = field(default_factory=dict)
    _target_ok: bool = False  # the drill database was reached and is not the application database

    def check_target(self) -> str:
        """The drill database URL, or DrillRefused (none configured; the application database).

        Once the drill database answered as a separate database that is remembered (scheduled drills
        ask every tick); an unreachable one is asked again next time."""
        if not self.drill_url:
            raise DrillRefused(NOT_CONFIGURED)
        if self._target_ok:
            return self.drill_url
        if is_same_database(self.database_url, self.drill_url):
            raise DrillRefused(SAME_DATABASE)
        self._target_ok = _reachable(self.drill_url)
        return self.drill_url

    def start(self, backup: dict[str, Any], trigger: str = "manual") -> dict[str, Any]:
        """Start a drill of a completed backup row; DrillRefused, BusyError (another drill runs)."""
        if backup["status"] != "completed":
            raise DrillRefused(f"Backup job is not complete (status: {backup['status']})")
        self.check_target()
        lock = try_drill_lock(self.database_url)
        launched = launch_job(
            lock, lambda drill_id: self.store.create(drill_id, str(backup["id"]), trigger), self._spawn_with(lock)
        )
        if launched is None:
            raise DrillRefused(f"Backup job is not complete or was removed: {backup['id']}")
        return launched[1]

    def start_scheduled(self, slot: datetime) -> dict[str, Any] | None:
        """The drill of a scheduled time, if this replica claims it (None: busy, claimed, no backup).
        DrillRefused when there is no usable drill database."""
        self.check_target()
        try:
            lock = try_drill_lock(self.database_url)
        except BusyError:
            return None
        launched = launch_job(lock, lambda drill_id: self.store.claim_scheduled(slot, drill_id), self._spawn_with(lock))
        return None if launched is None else launched[1]

    def _spawn_with(self, lock: OperationLock) -> Callable[[str, dict[str, Any]], None]:
        """launch_job's last step: the drill's thread, which owns `lock` until the drill ends."""
        return lambda drill_id, row: self._spawn(drill_id, row, lock)

    def _spawn(self, drill_id: str, row: dict[str, Any], lock: OperationLock) -> None:
        thread = threading.Thread(
            target=self._run,
            args=(drill_id, str(row["backup_id"]), lock),
            name=f"backupd-drill-{drill_id[:8]}",
            daemon=True,
        )
        self._threads[drill_id] = thread
        thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        for thread in list(self._threads.values()):
            thread.join(timeout)
        return not any(t.is_alive() for t in self._threads.values())

    def _run(self, drill_id: str, backup_id: str, lock: OperationLock) -> None:
        from .run import run_drill

        try:
            self.store.mark_running(drill_id)
            backup = self.jobs.get("backup", backup_id)
            name = self.archives.name_of(backup["file_path"]) if backup and backup.get("file_path") else None
            if name is None:
                raise DrillRefused(f"The archive of backup {backup_id} is not in the store")
            target = self.check_target()
            report = run_drill(target, self.archives.archive(name), tables=self.tables)
            tables = {
                t.key: {
                    "expected_rows": t.expected_count,
                    "restored_rows": t.actual_count,
                    "checksum_match": t.actual_checksum == t.expected_checksum,
                }
                for t in report.tables
            }
            error = report.error
            if error is None and not report.ok:
                bad = [t.key for t in report.tables if not t.ok]
                error = (
                    ("The restored data differs from the archive in: " + ", ".join(bad))
                    if bad
                    else "The drill compared no table"
                )
            self.store.finish(drill_id, "passed" if report.ok else "failed", tables, error)
            log.info("drill %s of backup %s %s", drill_id, backup_id, "passed" if report.ok else f"failed: {error}")
        except BaseException as exc:  # every outcome ends in the row
            log.warning("drill %s of backup %s failed: %s", drill_id, backup_id, one_line(exc))
            try:
                self.store.finish(drill_id, "failed", {}, one_line(exc))
            except psycopg.Error:
                log.exception("could not record the failure of drill %s", drill_id)
        finally:
            lock.close()
            self._threads.pop(drill_id, None)

    def reap(self) -> list[str]:
        """Mark failed the unfinished drills whose process is gone (their job lock is free)."""
        rows = self.store.unfinished()
        if not rows:
            return []
        held = self.jobs.held_job_locks()
        failed = [
            r["id"]
            for r in rows
            if job_lock_key(r["id"]) not in held and self.store.finish(r["id"], "failed", {}, INTERRUPTED)
        ]
        if failed:
            log.warning("marked %d drill(s) of stopped processes failed: %s", len(failed), ", ".join(failed))
        return failed
