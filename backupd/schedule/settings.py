"""Automatic-backup settings (docs/operations.md) and the bookkeeping that runs each scheduled time once.

The environment gives the initial schedule, time zone and retention (BACKUPD_SCHEDULE, …); a
`PUT /api/schedule` stores its fields in `backupd.schedule_settings`, and a stored field wins over the
environment for every replica from then on (a NULL column: the environment's value).

Exactly once across replicas: a scheduled time is started by inserting its row into
`schedule_slots` (primary key kind + time, `ON CONFLICT DO NOTHING`) in the same statement that
creates the job row, so of any number of replicas that find a time due exactly one starts it,
and a replica dying between the two is impossible. `schedule_anchors` remembers since when the
current schedule has been in force: only times after that are due, which is what keeps a new
installation (or a changed schedule) from starting a catch-up backup at once.

None lost while a replica runs: every running replica records each scheduled backup time it sees
pass in `schedule_slots` too, as kind `backup-due` (job_id: the replica that saw it), and the time
waits there until some replica starts it (the claim deletes it in the same statement). So a time
that passes while a job runs starts after it, in order, even if the replica that saw it pass dies
meanwhile; only times no replica saw (all down) collapse into one catch-up (`due`). A changed
schedule drops the waiting times of the old one, saying so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from ..config import Settings
from ..db.pool import ConnectionPool
from ..retention.policy import Policy
from .clock import Clock
from .cron import CronSchedule, InvalidSchedule, normalize, parse_timezone

KEEPS = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly")
SETTABLE = ("schedule", "timezone", "retention")
# Fields of ScheduleResponse a client may send back unchanged (GET, edit, PUT): accepted, ignored.
READ_ONLY = ("next_run_at", "last_scheduled_backup", "drill_schedule", "next_drill_at", "drill_configured")
BACKUP, DRILL = "backup", "drill"
WAITING = "backup-due"  # schedule_slots kind: a scheduled backup time a running replica saw pass, not started yet

log = logging.getLogger("backupd.schedule")
NAMED = 5  # scheduled times a log line names one by one
COUNTED = 1000  # scheduled times a log line counts (a long downtime of a frequent schedule: "at least 1000")


def describe(times: Sequence[datetime]) -> str:
    """Times for a log line: all of them when few, else the first and last and how many."""
    text = [t.isoformat() for t in times]
    if len(text) <= NAMED:
        return ", ".join(text)
    return f"{text[0]} ... {text[-1]} ({'at least ' if len(text) >= COUNTED else ''}{len(text)} times)"


@dataclass(frozen=True)
class ScheduleConfig:
    """The settings in force: the environment's, overridden by what PUT /api/schedule stored."""

    backup: CronSchedule
    drill: CronSchedule
    policy: Policy

    @property
    def timezone(self) -> str:
        return self.backup.timezone


def _env_value(name: str, parse: Any, value: Any) -> Any:
    try:
        return parse(value)
    except InvalidSchedule as exc:
        raise InvalidSchedule(f"BACKUPD_{name.upper()}: {exc}") from None


def config_from_settings(settings: Settings, overrides: dict[str, Any] | None = None) -> ScheduleConfig:
    """The settings in force; raises InvalidSchedule (naming the variable) for a bad environment value."""
    o = {k: v for k, v in (overrides or {}).items() if v is not None}
    timezone = o.get("timezone") or _env_value(
        "timezone", lambda v: (parse_timezone(v), v.strip())[1], settings.timezone
    )
    expression = o.get("schedule") or _env_value("schedule", normalize, settings.schedule)
    drill = _env_value("drill_schedule", normalize, settings.drill_schedule)
    policy = Policy(**{k: int(o.get(k, getattr(settings, k))) for k in KEEPS})
    return ScheduleConfig(CronSchedule(expression, timezone), CronSchedule(drill, timezone), policy)


def validate_changes(body: Any) -> dict[str, Any]:
    """A PUT body to the columns it changes; InvalidSchedule with the reason when anything is wrong."""
    if not isinstance(body, dict):
        raise InvalidSchedule("Expected a JSON object with any of: schedule, timezone, retention")
    unknown = sorted(set(body) - set(SETTABLE) - set(READ_ONLY))
    if unknown:
        raise InvalidSchedule(f"Unknown field(s): {', '.join(unknown)}; settable: schedule, timezone, retention")
    changes: dict[str, Any] = {}
    if "schedule" in body:
        if not isinstance(body["schedule"], str):
            raise InvalidSchedule("schedule must be a string: a five-field cron expression or 'off'")
        changes["schedule"] = normalize(body["schedule"])
    if "timezone" in body:
        if not isinstance(body["timezone"], str):
            raise InvalidSchedule("timezone must be a string such as UTC or Europe/Berlin")
        parse_timezone(body["timezone"])
        changes["timezone"] = body["timezone"].strip()
    if "retention" in body:
        retention = body["retention"]
        if not isinstance(retention, dict):
            raise InvalidSchedule("retention must be an object with any of: " + ", ".join(KEEPS))
        bad = sorted(set(retention) - set(KEEPS))
        if bad:
            raise InvalidSchedule(f"Unknown retention field(s): {', '.join(bad)}; known: {', '.join(KEEPS)}")
        for key, value in retention.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidSchedule(f"{key} must be a whole number of backups, 0 or more (got {value!r})")
            if value < 0:
                raise InvalidSchedule(f"{key} must be 0 or more (got {value})")
            if value > 1_000_000:
                raise InvalidSchedule(f"{key} must be at most 1000000 (got {value})")
            changes[key] = value
    return changes


class ScheduleRecords:
    """The schedule tables (SQL only; the scheduler and the API decide what to do with them)."""

    def __init__(self, pool: ConnectionPool, settings: Settings, clock: Clock | None = None) -> None:
        self.pool, self.settings, self.clock = pool, settings, clock or Clock()

    def _one(self, query: str, params: list[Any]) -> dict[str, Any] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchone() if cur.description else None

    # -- settings ---------------------------------------------------------------------------

    def overrides(self) -> dict[str, Any]:
        row = self._one(
            "SELECT schedule, timezone, keep_last, keep_daily, keep_weekly, keep_monthly"
            " FROM backupd.schedule_settings",
            [],
        )
        return dict(row) if row else {}

    def config(self) -> ScheduleConfig:
        return config_from_settings(self.settings, self.overrides())

    def update(self, changes: dict[str, Any]) -> ScheduleConfig:
        """Store validated changes (see validate_changes); a new schedule or zone is in force from now."""
        before = self.config()
        if changes:
            columns = list(changes)
            self._one(
                f"INSERT INTO backupd.schedule_settings (id, {', '.join(columns)})"
                f" VALUES (true, {', '.join(['%s'] * len(columns))})"
                f" ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)},"
                " updated_at = now()",
                [changes[c] for c in columns],
            )
        after = self.config()
        for kind, old, new in ((BACKUP, before.backup, after.backup), (DRILL, before.drill, after.drill)):
            if old.spec != new.spec:
                self.since(kind, new)
        return after

    # -- scheduled times ----------------------------------------------------------------------

    def since(self, kind: str, schedule: CronSchedule) -> datetime:
        """Since when `schedule` has been in force for `kind` (now, when it is new or changed). A change
        drops the backup times still waiting for the old schedule, with a warning."""
        row = self._one("SELECT spec, since FROM backupd.schedule_anchors WHERE kind = %s", [kind])
        if row and row["spec"] == schedule.spec:
            return row["since"]  # type: ignore[no-any-return]  # timestamptz
        row = self._one(
            "WITH anchor AS (INSERT INTO backupd.schedule_anchors (kind, spec, since) VALUES (%s, %s, %s)"
            " ON CONFLICT (kind) DO UPDATE SET spec = EXCLUDED.spec, since = EXCLUDED.since"
            " WHERE schedule_anchors.spec <> EXCLUDED.spec RETURNING since),"
            " dropped AS (DELETE FROM backupd.schedule_slots WHERE kind = %s AND %s AND EXISTS (SELECT 1 FROM anchor)"
            " RETURNING scheduled_for)"
            " SELECT (SELECT since FROM anchor) AS since,"
            " ARRAY(SELECT scheduled_for FROM dropped ORDER BY 1) AS dropped",
            [kind, schedule.spec, self.clock.now(), WAITING, kind == BACKUP],
        )
        if row and row["dropped"]:
            log.warning(
                "scheduled backups for %s skipped: the schedule changed to %s (%s)",
                describe(row["dropped"]),
                schedule.expression,
                schedule.timezone,
            )
        if row is None or row["since"] is None:  # another replica recorded the same spec a moment ago
            row = self._one("SELECT since FROM backupd.schedule_anchors WHERE kind = %s", [kind])
        return row["since"]  # type: ignore[index,no-any-return]

    def last_slot(self, kind: str) -> datetime | None:
        row = self._one("SELECT max(scheduled_for) AS t FROM backupd.schedule_slots WHERE kind = %s", [kind])
        return row["t"] if row else None

    def due(self, kind: str, schedule: CronSchedule) -> datetime | None:
        """The catch-up rule: the latest scheduled time at or before now that came after the schedule was
        set and after the last time started, if any. Times missed while no replica looked collapse into
        it; the times a running replica sees pass are its scheduler's backlog, each started."""
        if schedule.off:
            return None
        now = self.clock.now()
        slot = schedule.latest_at_or_before(now)
        if slot is None or slot <= self.since(kind, schedule):
            return None
        last = self.last_slot(kind)
        if last is not None and slot <= last:
            return None
        return slot

    def next_run(self, kind: str, schedule: CronSchedule) -> datetime | None:
        """A due time still waiting (for a busy runner), else the next time of the schedule."""
        if schedule.off:
            return None
        return self.due(kind, schedule) or schedule.next_after(self.clock.now())

    def claimed(self, kind: str, times: Sequence[datetime]) -> set[datetime]:
        """Which of `times` some replica has started already."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT scheduled_for FROM backupd.schedule_slots WHERE kind = %s AND scheduled_for = ANY(%s)",
                [kind, list(times)],
            ).fetchall()
        return {row[0] for row in rows}

    def record_due(self, times: Sequence[datetime], seen_by: str) -> list[datetime]:
        """Record scheduled backup times a running replica saw pass, to wait until one starts them;
        the times recorded by this call (not those recorded already, nor those started)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "INSERT INTO backupd.schedule_slots (kind, scheduled_for, job_id)"
                " SELECT %s, t, %s::uuid FROM unnest(%s::timestamptz[]) AS t WHERE NOT EXISTS"
                " (SELECT 1 FROM backupd.schedule_slots s WHERE s.kind = 'backup' AND s.scheduled_for = t)"
                " ON CONFLICT DO NOTHING RETURNING scheduled_for",
                [WAITING, seen_by, list(times)],
            ).fetchall()
        return sorted(row[0] for row in rows)

    def waiting(self, schedule: CronSchedule) -> list[datetime]:
        """The scheduled backup times waiting to start, oldest first (of the schedule in force only)."""
        if schedule.off:
            return []
        since = self.since(BACKUP, schedule)
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT w.scheduled_for FROM backupd.schedule_slots w WHERE w.kind = %s AND w.scheduled_for > %s"
                " AND NOT EXISTS (SELECT 1 FROM backupd.schedule_slots s WHERE s.kind = 'backup'"
                " AND s.scheduled_for = w.scheduled_for) ORDER BY w.scheduled_for",
                [WAITING, since],
            ).fetchall()
        # A time recorded by a replica that still read the old schedule is no time of this one: ignored.
        return [row[0] for row in rows if schedule.latest_at_or_before(row[0]) == row[0]]

    def trim_waiting(self, keep: int) -> list[datetime]:
        """Drop all but the newest `keep` waiting backup times; the times dropped, oldest first."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "DELETE FROM backupd.schedule_slots WHERE kind = %s AND scheduled_for IN (SELECT scheduled_for"
                " FROM backupd.schedule_slots WHERE kind = %s ORDER BY scheduled_for DESC OFFSET %s)"
                " RETURNING scheduled_for",
                [WAITING, WAITING, keep],
            ).fetchall()
        return sorted(row[0] for row in rows)

    def unstarted_before(self, kind: str, schedule: CronSchedule, slot: datetime, limit: int = 1000) -> list[datetime]:
        """The times `slot` stands for: the schedule's times before it that came after the schedule was
        set and after the last time started before it; at most `limit`, the oldest."""
        row = self._one(
            "SELECT max(scheduled_for) AS t FROM backupd.schedule_slots WHERE kind = %s AND scheduled_for < %s",
            [kind, slot],
        )
        since = self.since(kind, schedule)
        lower = max(since, row["t"]) if row and row["t"] else since
        return [t for t in schedule.times_between(lower, slot, limit + 1) if t < slot][:limit]

    def claim_backup(self, slot: datetime, job_id: str, total_tables: int, spec: str) -> bool:
        """Claim `slot` and create its pending backup job in one statement (which also ends the time's
        wait). False if the time is claimed already, or if `spec` is no longer the schedule in force
        (changed or turned off a moment ago by another replica: no backup starts after the change)."""
        row = self._one(
            "WITH slot AS (INSERT INTO backupd.schedule_slots (kind, scheduled_for, job_id)"
            " SELECT 'backup', %s, %s::uuid WHERE EXISTS (SELECT 1 FROM backupd.schedule_anchors"
            " WHERE kind = 'backup' AND spec = %s) ON CONFLICT DO NOTHING RETURNING job_id, scheduled_for),"
            " done AS (DELETE FROM backupd.schedule_slots w USING slot WHERE w.kind = %s"
            " AND w.scheduled_for = slot.scheduled_for)"
            " INSERT INTO backupd.backup_jobs (id, total_tables, trigger)"
            " SELECT job_id, %s, 'schedule' FROM slot RETURNING id",
            [slot, job_id, spec, WAITING, total_tables],
        )
        return row is not None

    def last_scheduled_backup(self) -> dict[str, Any] | None:
        return self._one(
            "SELECT id, status, created_at FROM backupd.backup_jobs WHERE trigger = 'schedule'"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            [],
        )
