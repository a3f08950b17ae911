"""Applying the retention policy to the saved backups: the job rows and their store objects (docs/operations.md).

The decision is retention.plan's; this module reads the completed backups, marks those a running
job reads, and removes what the plan says: the job row first (so nobody is offered a backup whose
archive is going), then the object. Each removal re-checks, under a row lock, that the backup is
still there, still unpinned and still not being read by a drill that started meanwhile (drills
take a share lock on the backup's row when they start, see drills.DrillRecords.create).

Callers hold the operation lock (after a backup, `backupd prune`, `POST /api/backup/prune`), so
no backup or restore runs meanwhile; drills do not take it, hence the re-check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from psycopg.rows import dict_row

from ..db.pool import ConnectionPool
from ..store import Store
from .policy import REASON_IN_USE, REASON_PINNED, Candidate, Kept, Policy, plan

log = logging.getLogger("backupd.prune")

_IN_USE_SQL = (
    "SELECT backup_id::text AS id FROM backupd.drill_runs WHERE status IN ('pending', 'running')"
    " UNION SELECT backup_id::text FROM backupd.restore_jobs WHERE status NOT IN ('completed', 'failed')"
    " AND backup_id IS NOT NULL"
)


@dataclass
class PruneResult:
    kept: list[Kept] = field(default_factory=list)  # newest first, each with the rules that keep it
    removed: list[str] = field(default_factory=list)  # newest first
    dry_run: bool = False
    created_at: dict[str, object] = field(default_factory=dict)  # id -> created_at, for reports


def prune(
    pool: ConnectionPool, archives: Store, policy: Policy, timezone: str, *, dry_run: bool = False
) -> PruneResult:
    """Apply `policy` (buckets in `timezone`) to the completed backups; with dry_run change nothing."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT id::text AS id, created_at, pinned, file_path FROM backupd.backup_jobs WHERE status = 'completed'"
        ).fetchall()
        in_use = {r["id"] for r in cur.execute(_IN_USE_SQL).fetchall()}
    by_id = {r["id"]: r for r in rows}
    decided = plan(
        [Candidate(r["id"], r["created_at"], r["pinned"], r["id"] in in_use) for r in rows], policy, ZoneInfo(timezone)
    )
    result = PruneResult(kept=list(decided.kept), dry_run=dry_run, created_at={r["id"]: r["created_at"] for r in rows})
    if dry_run:
        result.removed = list(decided.removed)
        return result
    for backup_id in decided.removed:
        refused = _remove_row(pool, backup_id)
        if refused == "gone":  # deleted meanwhile (DELETE /api/backup/{id}): neither kept nor removed here
            continue
        if refused:
            result.kept.append(Kept(backup_id, [refused]))
            continue
        result.removed.append(backup_id)
        name = archives.name_of(by_id[backup_id]["file_path"]) if by_id[backup_id]["file_path"] else None
        if name is not None:
            try:
                archives.delete(name)
            except Exception as exc:  # the row is gone; the object is an orphan, say so
                log.warning(
                    "retention: backup %s removed but its archive %s could not be deleted: %s", backup_id, name, exc
                )
    result.kept.sort(key=lambda k: (by_id[k.id]["created_at"], k.id), reverse=True)
    if result.removed:
        log.info("retention removed %d backup(s): %s", len(result.removed), ", ".join(result.removed))
    return result


def _remove_row(pool: ConnectionPool, backup_id: str) -> str | None:
    """Delete the backup's row unless it became pinned or in use; the reason it stays, else None."""
    with pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT pinned, status FROM backupd.backup_jobs WHERE id = %s FOR UPDATE", [backup_id]
        ).fetchone()
        if row is None or row["status"] != "completed":
            return "gone"
        if row["pinned"]:
            return REASON_PINNED
        in_use = {r["id"] for r in cur.execute(_IN_USE_SQL).fetchall()}
        if backup_id in in_use:
            return REASON_IN_USE
        cur.execute("DELETE FROM backupd.backup_jobs WHERE id = %s", [backup_id])
    return None
