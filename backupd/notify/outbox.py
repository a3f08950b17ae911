"""The outbox, backupd.notifications, as SQL; and the few reads that decide what to notify.

Once across replicas: `record` inserts one row per (event key, target) with ON CONFLICT DO NOTHING, so
a key seen by every replica (the stale alarm) still becomes one row each. Delivery leases a due row
(`lease`: FOR UPDATE SKIP LOCKED, then `leased_until`), so two replicas never send the same row at
once; a sender that died is replaced when its lease runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from ..db.pool import ConnectionPool
from .events import Event

# The finished job of the same kind before a given one: 'failed' makes a success a recovery.
_AFTER = " AND id <> %s AND completed_at <= coalesce(%s::timestamptz, 'infinity')"
_LAST = " ORDER BY completed_at DESC, id DESC LIMIT 1"
_PREVIOUS = {
    "backup": "SELECT status::text AS status FROM backupd.backup_jobs WHERE status IN ('completed', 'failed')"
    " AND trigger <> 'safety'" + _AFTER + _LAST,
    "restore": "SELECT status::text AS status FROM backupd.restore_jobs WHERE status IN ('completed', 'failed')"
    + _AFTER
    + _LAST,
    "drill": "SELECT status FROM backupd.drill_runs WHERE status IN ('passed', 'failed')" + _AFTER + _LAST,
}


@dataclass(frozen=True)
class Freshness:
    """When the newest backup (not a restore's safety backup) completed, since when backupd is installed,
    and the database's clock: every replica computes "stale" from the same three values."""

    last_completed_at: datetime | None
    installed_at: datetime
    now: datetime

    @property
    def since(self) -> datetime:
        return self.last_completed_at or self.installed_at

    def stale(self, stale_after: float | None) -> bool:
        return stale_after is not None and (self.now - self.since).total_seconds() > stale_after


class Outbox:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def _all(self, query: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    def record(self, event: Event, targets: Sequence[str]) -> int:
        """The event's row for each target; how many were new (0: another replica recorded it)."""
        if not targets:
            return 0
        rows = self._all(
            "INSERT INTO backupd.notifications (key, target, event, title, body)"
            " SELECT %s, t, %s, %s, %s FROM unnest(%s::text[]) AS t ON CONFLICT DO NOTHING RETURNING target",
            [event.key, event.event, event.title, event.body, list(targets)],
        )
        return len(rows)

    def lease(self, targets: Sequence[str], lease_seconds: float, limit: int = 20) -> list[dict[str, Any]]:
        """Due rows of these targets, oldest first, leased to the caller for `lease_seconds`."""
        return self._all(
            "UPDATE backupd.notifications n SET leased_until = now() + make_interval(secs => %s),"
            " attempts = n.attempts + 1, last_attempt_at = clock_timestamp()"
            " FROM (SELECT key, target FROM backupd.notifications"
            "       WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= now()"
            "       AND (leased_until IS NULL OR leased_until < now()) AND target = ANY(%s)"
            "       ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED) due"
            " WHERE n.key = due.key AND n.target = due.target"
            " RETURNING n.key, n.target, n.event, n.title, n.body, n.attempts, n.created_at",
            [lease_seconds, list(targets), limit],
        )

    def delivered(self, key: str, target: str) -> None:
        self._all(
            "UPDATE backupd.notifications SET delivered_at = clock_timestamp(), leased_until = NULL, last_error = NULL"
            " WHERE key = %s AND target = %s",
            [key, target],
        )

    def failed(self, key: str, target: str, error: str, retry_in: float, give_up_after: float) -> bool:
        """Record a failed attempt and when to try again; True when the row is given up (too old)."""
        rows = self._all(
            "UPDATE backupd.notifications SET last_error = left(%s, 1000), leased_until = NULL,"
            " next_attempt_at = now() + make_interval(secs => %s),"
            " gave_up_at = CASE WHEN created_at < now() - make_interval(secs => %s) THEN now() END"
            " WHERE key = %s AND target = %s RETURNING gave_up_at IS NOT NULL AS gave_up",
            [error, retry_in, give_up_after, key, target],
        )
        return bool(rows and rows[0]["gave_up"])

    def last_error(self) -> str | None:
        """The error of the latest attempt to notify (pings included), or None when it succeeded."""
        rows = self._all(
            "SELECT last_error FROM backupd.notifications WHERE last_attempt_at IS NOT NULL"
            " AND (delivered_at IS NOT NULL OR last_error IS NOT NULL)"
            " ORDER BY last_attempt_at DESC LIMIT 1",
            [],
        )
        return rows[0]["last_error"] if rows else None

    def undelivered(self) -> int:
        rows = self._all(
            "SELECT count(*) AS n FROM backupd.notifications WHERE delivered_at IS NULL AND gave_up_at IS NULL", []
        )
        return int(rows[0]["n"])

    def previous_outcome(self, kind: str, row: dict[str, Any]) -> str | None:
        """'failed', 'completed' or 'passed': how the finished job of the same kind before `row` ended."""
        found = self._all(_PREVIOUS[kind], [str(row["id"]), row.get("completed_at")])
        return found[0]["status"] if found else None

    def freshness(self) -> Freshness:
        rows = self._all(
            "SELECT (SELECT max(completed_at) FROM backupd.backup_jobs WHERE status = 'completed'"
            "        AND trigger <> 'safety') AS last,"
            " coalesce((SELECT min(applied_at) FROM backupd.migrations), now()) AS installed, now() AS now",
            [],
        )
        return Freshness(rows[0]["last"], rows[0]["installed"], rows[0]["now"])
