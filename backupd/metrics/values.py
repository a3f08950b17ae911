"""One consistent read of what the metrics and the status line report.

"Backup" here means one of the configured table set (trigger manual or schedule): a restore's safety
backup holds only the tables that restore replaced, so it neither makes backups fresh nor counts as the
last backup; it is still counted in `jobs` and `backups_by_trigger`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from psycopg.rows import dict_row

from ..db.pool import ConnectionPool
from ..notify.outbox import Freshness
from ..store import Store

RECENT_BACKUPS = 30  # finished backups the page's chart shows

_OUTCOMES = """
SELECT 'backup' AS kind, status::text AS status, count(*) AS n,
       max(completed_at) FILTER (WHERE trigger <> 'safety') AS last
  FROM backupd.backup_jobs GROUP BY status
UNION ALL
SELECT 'restore', status::text, count(*), max(completed_at) FROM backupd.restore_jobs GROUP BY status
UNION ALL
SELECT 'drill', status, count(*), max(completed_at) FROM backupd.drill_runs GROUP BY status
"""
_BACKUP_COLUMNS = (
    "id::text AS id, status::text AS status, trigger, created_at, started_at, completed_at,"
    " extract(epoch FROM completed_at - started_at)::float8 AS duration_seconds,"
    " file_size_bytes AS size_bytes, error_message,"
    " (manifest_json->'reuse'->>'rows_reused')::bigint AS rows_reused,"
    " (manifest_json->'reuse'->>'rows_read')::bigint AS rows_read"
)


@dataclass(frozen=True)
class BackupSummary:
    id: str
    status: str
    trigger: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    size_bytes: int | None
    error_message: str | None
    rows_reused: int | None = None  # archive format 1.1: rows copied from the previous backup
    rows_read: int | None = None  # and rows read from the database


@dataclass(frozen=True)
class DrillSummary:
    id: str
    backup_id: str
    status: str
    trigger: str
    completed_at: datetime | None
    error_message: str | None


@dataclass(frozen=True)
class Snapshot:
    now: datetime  # the database's clock
    jobs: dict[tuple[str, str], int]  # (kind, status) -> rows
    last_success: dict[str, datetime]  # kind -> time (backup: not safety; drill: passed)
    last_failure: dict[str, datetime]
    backups_by_trigger: dict[str, int]  # completed backups
    last_backup: BackupSummary | None  # the newest completed backup of the table set
    last_drill: DrillSummary | None  # the newest finished drill
    recent_backups: list[BackupSummary]  # finished backups, newest first
    freshness: Freshness
    store_bytes: int | None = None  # None: the store did not answer
    store_objects: int | None = None


def read_snapshot(pool: ConnectionPool) -> Snapshot:
    with pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        jobs: dict[tuple[str, str], int] = {}
        success: dict[str, datetime] = {}
        failure: dict[str, datetime] = {}
        for row in cur.execute(_OUTCOMES).fetchall():
            jobs[(row["kind"], row["status"])] = int(row["n"])
            if row["last"] is not None and row["status"] in ("completed", "passed"):
                success[row["kind"]] = row["last"]
            elif row["last"] is not None and row["status"] == "failed":
                failure[row["kind"]] = row["last"]
        triggers = {
            r["trigger"]: int(r["n"])
            for r in cur.execute(
                "SELECT trigger, count(*) AS n FROM backupd.backup_jobs WHERE status = 'completed' GROUP BY trigger"
            )
        }
        last = cur.execute(
            f"SELECT {_BACKUP_COLUMNS} FROM backupd.backup_jobs WHERE status = 'completed' AND trigger <> 'safety'"
            " ORDER BY completed_at DESC, id DESC LIMIT 1"
        ).fetchone()
        recent = cur.execute(
            f"SELECT {_BACKUP_COLUMNS} FROM backupd.backup_jobs WHERE status IN ('completed', 'failed')"
            " ORDER BY created_at DESC, id DESC LIMIT %s",
            [RECENT_BACKUPS],
        ).fetchall()
        drill = cur.execute(
            "SELECT id::text AS id, backup_id::text AS backup_id, status, trigger, completed_at, error_message"
            " FROM backupd.drill_runs WHERE status IN ('passed', 'failed') ORDER BY completed_at DESC, id DESC LIMIT 1"
        ).fetchone()
        fresh = cur.execute(
            "SELECT coalesce((SELECT min(applied_at) FROM backupd.migrations), now()) AS installed, now() AS now"
        ).fetchone()
        assert fresh is not None  # one row, always
    last_summary = BackupSummary(**last) if last else None
    return Snapshot(
        now=fresh["now"],
        jobs=jobs,
        last_success=success,
        last_failure=failure,
        backups_by_trigger=triggers,
        last_backup=last_summary,
        last_drill=DrillSummary(**drill) if drill else None,
        recent_backups=[BackupSummary(**r) for r in recent],
        freshness=Freshness(last_summary.completed_at if last_summary else None, fresh["installed"], fresh["now"]),
    )


def with_store(snapshot: Snapshot, archives: Store) -> Snapshot:
    """The snapshot with the store's archive count and bytes (one listing); unchanged if the store fails."""
    try:
        objects = archives.archives()
    except Exception:  # an unreachable store is reported as backupd_store_up 0, not as an error
        return snapshot
    return replace(snapshot, store_bytes=sum(o.size for o in objects), store_objects=len(objects))
