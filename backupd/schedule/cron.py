"""Cron expressions in an IANA time zone (docs/operations.md): validation, next and previous times.

Parsing and the walk through calendar time are cronsim's (the cron evaluator Healthchecks runs),
chosen over croniter because it follows Debian cron across daylight-saving changes, which is what
people expect from a nightly job: on a spring-forward day a 02:30 schedule runs once, right after
the clock jumps (03:00 local), and on a fall-back day 02:30 comes round twice on the wall clock
but runs once. croniter 7 ran the same schedule twice on the fall-back day.

Only classic five-field expressions are accepted (cronsim also takes a seconds field) plus the
usual @hourly/@daily/@weekly/@monthly/@yearly shorthands. Everything here is pure: "now" is an
argument, so tests walk through any date without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from ..errors import BackupdError

OFF = "off"
ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_EPSILON = timedelta(microseconds=1)


class InvalidSchedule(BackupdError):
    """A cron expression, time zone or keep value that cannot be used (the message says which and why).

    Not a ConfigError: the API answers those as 503 (database unavailable); this one is a 400.
    """


def parse_timezone(name: str) -> ZoneInfo:
    text = (name or "").strip()
    if not text:
        raise InvalidSchedule("Unknown time zone: (empty); use an IANA name such as UTC or Europe/Berlin")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSchedule(f"Unknown time zone: {text}; use an IANA name such as UTC or Europe/Berlin") from None


def normalize(expression: str) -> str:
    """The expression as stored: `off`, or five fields separated by single spaces.

    Raises InvalidSchedule with the reason (wrong number of fields, which field is bad, a date
    that never occurs such as `0 0 30 2 *`).
    """
    text = " ".join((expression or "").split())
    if not text:
        raise InvalidSchedule(
            "Invalid cron expression: empty; use five fields (minute hour day month weekday) or 'off'"
        )
    if text.lower() == OFF:
        return OFF
    text = ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise InvalidSchedule(
            f"Invalid cron expression '{text}': expected 5 fields (minute hour day month weekday), got {len(fields)}"
        )
    try:
        next(CronSim(text, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise InvalidSchedule(f"Invalid cron expression '{text}': {str(exc).lower()}") from None
    except StopIteration:
        raise InvalidSchedule(f"Invalid cron expression '{text}': it never matches a date") from None
    return text


@dataclass(frozen=True)
class CronSchedule:
    """A validated expression (or `off`) in a time zone; every method takes and returns aware datetimes."""

    expression: str
    timezone: str

    @classmethod
    def parse(cls, expression: str, timezone: str) -> CronSchedule:
        parse_timezone(timezone)
        return cls(normalize(expression), timezone.strip())

    @property
    def off(self) -> bool:
        return self.expression == OFF

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def spec(self) -> str:
        """What identifies the schedule (expression and zone): a change of either is a new schedule."""
        return f"{self.expression}|{self.timezone}"

    def next_after(self, when: datetime) -> datetime | None:
        """The first scheduled time strictly after `when` (UTC), or None when off."""
        if self.off:
            return None
        try:
            found = next(CronSim(self.expression, when.astimezone(self.zone)))
        except StopIteration:
            return None
        return found.astimezone(UTC)

    def latest_at_or_before(self, when: datetime) -> datetime | None:
        """The last scheduled time at or before `when` (UTC), or None when off."""
        if self.off:
            return None
        try:
            found = next(CronSim(self.expression, (when + _EPSILON).astimezone(self.zone), reverse=True))
        except StopIteration:
            return None
        return found.astimezone(UTC)

    def times_between(self, start: datetime, end: datetime, limit: int | None = None) -> list[datetime]:
        """Every scheduled time t with start < t <= end (UTC), in order; at most `limit` of them, the first."""
        out: list[datetime] = []
        current = start
        while limit is None or len(out) < limit:
            nxt = self.next_after(current)
            if nxt is None or nxt > end:
                return out
            out.append(nxt)
            current = nxt
        return out
