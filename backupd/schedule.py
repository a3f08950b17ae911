"""Automatic-backup settings (CONTRACT §9) and the bookkeeping that runs each scheduled time once.

The environment gives the initial schedule, time zone and retention (BACKUPD_SCHEDULE, …); a
`PUT /api/schedule` stores its fields in `backupd.schedule_settings`, and a stored field wins over the
environment for every replica from then on (a NULL column: the environment's value).

Exactly once across replicas: a scheduled time is started by inserting its row into
`schedule_slots` (primary key kind + time, `ON CONFLICT DO NOTHING`) in the same statement that
creates the job row, so of any number of replicas that find a time due exactly one starts it,
and a replica dying between the two is impossible. `schedule_anchors` remembers since when the
current schedule has been in force: only times after that are due, which is what keeps a new
installation (or a changed schedule) from starting a catch-up backup at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from .clock import Clock
from .config import Settings
from .cron import InvalidSchedule, Schedule, normalize, parse_timezone
from .jobs import ConnectionPool
from .retention import Policy

KEEPS = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly")
SETTABLE = ("schedule", "timezone", "retention")
# Fields of ScheduleResponse a client may send back unchanged (GET, edit, PUT): accepted, ignored.
READ_ONLY = ("next_run_at", "last_scheduled_backup", "drill_schedule", "next_drill_at", "drill_configured")
BACKUP, DRILL = "backup", "drill"


@dataclass(frozen=True)
class ScheduleConfig:
    """The settings in force: the environment's, overridden by what PUT /api/schedule stored."""

    backup: Schedule
    drill: Schedule
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
    timezone = o.get("timezone") or _env_value("timezone", lambda v: (parse_timezone(v), v.strip())[1],
                                               settings.timezone)
    expression = o.get("schedule") or _env_value("schedule", normalize, settings.schedule)
    drill = _env_value("drill_schedule", normalize, settings.drill_schedule)
    policy = Policy(**{k: int(o.get(k, getattr(settings, k))) for k in KEEPS})
    return ScheduleConfig(Schedule(expression, timezone), Schedule(drill, timezone), policy)


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


class ScheduleStore:
    """The schedule tables (SQL only; the scheduler and the API decide what to do with them)."""

    def __init__(self, pool: ConnectionPool, settings: Settings, clock: Clock | None = None) -> None:
        self.pool, self.settings, self.clock = pool, settings, clock or Clock()

    def _one(self, query: str, params: list[Any]) -> dict[str, Any] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchone() if cur.description else None

    # -- settings ---------------------------------------------------------------------------

    def overrides(self) -> dict[str, Any]:
        row = self._one("SELECT schedule, timezone, keep_last, keep_daily, keep_weekly, keep_monthly"
                        " FROM backupd.schedule_settings", [])
        return dict(row) if row else {}

    def config(self) -> ScheduleConfig:
        return config_from_settings(self.settings, self.overrides())

    def update(self, changes: dict[str, Any]) -> ScheduleConfig:
        """Store validated changes (see validate_changes); a new schedule or zone is in force from now."""
        before = self.config()
        if changes:
            columns = list(changes)
            self._one(
                f"INSERT INTO backupd.schedule_settings (id, {', '.join(columns)}) VALUES (true, {', '.join(['%s'] * len(columns))})"
                f" ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)}, updated_at = now()",
                [changes[c] for c in columns],
            )
        after = self.config()
        for kind, old, new in ((BACKUP, before.backup, after.backup), (DRILL, before.drill, after.drill)):
            if old.spec != new.spec:
                self.since(kind, new)
        return after

    # -- scheduled times ----------------------------------------------------------------------

    def since(self, kind: str, schedule: Schedule) -> datetime:
        """Since when `schedule` has been in force for `kind` (now, when it is new or changed)."""
        row = self._one("SELECT spec, since FROM backupd.schedule_anchors WHERE kind = %s", [kind])
        if row and row["spec"] == schedule.spec:
            return row["since"]
        row = self._one(
            "INSERT INTO backupd.schedule_anchors (kind, spec, since) VALUES (%s, %s, %s)"
            " ON CONFLICT (kind) DO UPDATE SET spec = EXCLUDED.spec, since = EXCLUDED.since"
            " WHERE schedule_anchors.spec <> EXCLUDED.spec RETURNING since",
            [kind, schedule.spec, self.clock.now()],
        )
        if row is None:  # another replica recorded the same spec a moment ago
            row = self._one("SELECT since FROM backupd.schedule_anchors WHERE kind = %s", [kind])
        return row["since"]  # type: ignore[index]

    def last_slot(self, kind: str) -> datetime | None:
        row = self._one("SELECT max(scheduled_for) AS t FROM backupd.schedule_slots WHERE kind = %s", [kind])
        return row["t"] if row else None

    def due(self, kind: str, schedule: Schedule) -> datetime | None:
        """The scheduled time to start now, if any: the latest one at or before now that came after
        the schedule was set and after the last time started. Missed times collapse into one."""
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

    def next_run(self, kind: str, schedule: Schedule) -> datetime | None:
        """A due time still waiting (for a busy runner), else the next time of the schedule."""
        if schedule.off:
            return None
        return self.due(kind, schedule) or schedule.next_after(self.clock.now())

    def claim_backup(self, slot: datetime, job_id: str, total_tables: int) -> bool:
        """Claim `slot` and create its pending backup job in one statement; False if already claimed."""
        row = self._one(
            "WITH slot AS (INSERT INTO backupd.schedule_slots (kind, scheduled_for, job_id) VALUES ('backup', %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING job_id)"
            " INSERT INTO backupd.backup_jobs (id, total_tables, trigger) SELECT job_id, %s, 'schedule' FROM slot RETURNING id",
            [slot, job_id, total_tables],
        )
        return row is not None

    def last_scheduled_backup(self) -> dict[str, Any] | None:
        return self._one("SELECT id, status, created_at FROM backupd.backup_jobs WHERE trigger = 'schedule'"
                         " ORDER BY created_at DESC, id DESC LIMIT 1", [])
