"""The retention policy (docs/operations.md), pure: which completed backups to keep, and why.

Same meaning as restic's `forget --keep-last/--keep-daily/--keep-weekly/--keep-monthly`: walk the
backups newest first; `keep_last` keeps the first N; each bucket rule keeps the newest backup of
each of the last N periods (local days, ISO weeks, calendar months of the schedule's time zone)
that have a backup at all. A backup kept by several rules lists them all. All four at 0 keeps
everything. On top of the policy, whatever it says: the newest backup, pinned backups and backups
a running job reads are never removed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

REASON_LAST = "last"
REASON_DAILY = "daily"
REASON_WEEKLY = "weekly"
REASON_MONTHLY = "monthly"
REASON_NEWEST = "newest"
REASON_PINNED = "pinned"
REASON_IN_USE = "in use"
REASON_NO_POLICY = "no policy"  # all four keeps at 0


@dataclass(frozen=True)
class Policy:
    keep_last: int = 7
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6

    def __post_init__(self) -> None:
        for name in ("keep_last", "keep_daily", "keep_weekly", "keep_monthly"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")

    @property
    def keeps_everything(self) -> bool:
        return not (self.keep_last or self.keep_daily or self.keep_weekly or self.keep_monthly)

    def as_dict(self) -> dict[str, int]:
        return {
            "keep_last": self.keep_last,
            "keep_daily": self.keep_daily,
            "keep_weekly": self.keep_weekly,
            "keep_monthly": self.keep_monthly,
        }


@dataclass(frozen=True)
class Candidate:
    """A completed backup as the policy sees it."""

    id: str
    created_at: datetime  # aware
    pinned: bool = False
    in_use: bool = False  # a running job (restore, drill) reads it


@dataclass(frozen=True)
class Kept:
    id: str
    reasons: list[str]


@dataclass
class Plan:
    kept: list[Kept] = field(default_factory=list)  # newest first
    removed: list[str] = field(default_factory=list)  # newest first


def _day(t: datetime) -> Hashable:
    return t.date()


def _iso_week(t: datetime) -> Hashable:
    year, week, _ = t.isocalendar()
    return (year, week)


def _month(t: datetime) -> Hashable:
    return (t.year, t.month)


def plan(backups: Sequence[Candidate], policy: Policy, timezone: ZoneInfo | str = "UTC") -> Plan:
    """Decide for every backup; the input order does not matter (newest = latest created_at, then id)."""
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    ordered = sorted(backups, key=lambda b: (b.created_at, b.id), reverse=True)
    buckets: list[tuple[str, int, Callable[[datetime], Hashable]]] = [
        (REASON_DAILY, policy.keep_daily, _day),
        (REASON_WEEKLY, policy.keep_weekly, _iso_week),
        (REASON_MONTHLY, policy.keep_monthly, _month),
    ]
    remaining = [count for _, count, _ in buckets]
    last_key: list[Hashable | None] = [None] * len(buckets)
    result = Plan()
    for index, backup in enumerate(ordered):
        local = backup.created_at.astimezone(zone)
        reasons: list[str] = []
        if index == 0:
            reasons.append(REASON_NEWEST)
        if policy.keeps_everything:
            reasons.append(REASON_NO_POLICY)
        if index < policy.keep_last:
            reasons.append(REASON_LAST)
        for i, (reason, _, key_of) in enumerate(buckets):
            if remaining[i] <= 0:
                continue
            key = key_of(local)
            if key != last_key[i]:  # the newest backup of a period not seen yet
                last_key[i] = key
                remaining[i] -= 1
                reasons.append(reason)
        if backup.pinned:
            reasons.append(REASON_PINNED)
        if backup.in_use:
            reasons.append(REASON_IN_USE)
        if reasons:
            result.kept.append(Kept(backup.id, reasons))
        else:
            result.removed.append(backup.id)
    return result
