"""The events backupd tells people about, each with the key that makes it notify once (docs/operations.md).

| event | key | when |
|---|---|---|
| backup_failed, restore_…, drill_… | `<event>:<job id>` | a job failed (a safety backup: its restore) |
| backup_recovered, restore_…, drill_… | `<event>:<job id>` | first success after a failure |
| schedule_missed | `schedule_missed:<first time>` | scheduled backup times that passed without a backup of their own |
| stale | `stale:<last completed backup's time>` | no completed backup for BACKUPD_STALE_AFTER |
| test | `test:<id>` | POST /api/notify/test |
| ping | `ping:<job id>` | a scheduled backup ended (BACKUPD_PING_URL, `…/fail` when it failed) |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..ids import uuid7

KIND_NAMES = {"backup": "Backup", "restore": "Restore", "drill": "Restore drill"}
NAMED_TIMES = 5


@dataclass(frozen=True)
class Event:
    key: str  # unique per event: the outbox's primary key with the target
    event: str  # backup_failed, …, ping
    title: str
    body: str


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else "an unknown time"


def _job_text(kind: str, row: dict[str, Any]) -> str:
    """'Scheduled backup 0194…', 'Dry-run restore 0194…', 'Restore drill 0194…'."""
    label = {"schedule": "Scheduled", "safety": "Safety"}.get(str(row.get("trigger")), "")
    if kind == "restore" and row.get("dry_run"):
        label = "Dry-run"
    name = KIND_NAMES[kind]
    return f"{label} {name.lower()} {row['id']}" if label else f"{name} {row['id']}"


def job_failed(kind: str, row: dict[str, Any]) -> Event:
    error = row.get("error_message") or "no reason was recorded"
    return Event(
        f"{kind}_failed:{row['id']}",
        f"{kind}_failed",
        f"backupd: {KIND_NAMES[kind].lower()} failed",
        f"{_job_text(kind, row)} failed at {_when(row.get('completed_at'))}: {error}",
    )


def job_recovered(kind: str, row: dict[str, Any]) -> Event:
    return Event(
        f"{kind}_recovered:{row['id']}",
        f"{kind}_recovered",
        f"backupd: {KIND_NAMES[kind].lower()} works again",
        f"{_job_text(kind, row)} succeeded at {_when(row.get('completed_at'))}, after the previous one failed.",
    )


def schedule_missed(times: Sequence[datetime], reason: str) -> Event:
    shown = [t.isoformat() for t in times[:NAMED_TIMES]]
    more = f" and {len(times) - NAMED_TIMES} more" if len(times) > NAMED_TIMES else ""
    return Event(
        f"schedule_missed:{times[0].isoformat()}",
        "schedule_missed",
        "backupd: scheduled backup did not start",
        f"The scheduled backup{'s' if len(times) > 1 else ''} for {', '.join(shown)}{more} did not start: {reason}",
    )


def stale(last: datetime | None, since: datetime, stale_after: str) -> Event:
    what = f"since {_when(last)}" if last is not None else f"since backupd was installed ({_when(since)})"
    return Event(
        f"stale:{since.isoformat()}",
        "stale",
        "backupd: no recent backup",
        f"No backup has completed {what}, longer than BACKUPD_STALE_AFTER ({stale_after}).",
    )


def test() -> Event:
    return Event(
        f"test:{uuid7()}",
        "test",
        "backupd: test notification",
        "This is a test notification from backupd: notifications reach you.",
    )


def ping(row: dict[str, Any]) -> Event:
    return Event(f"ping:{row['id']}", "ping", "", "fail" if row.get("status") == "failed" else "ok")
