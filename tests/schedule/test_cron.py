"""Cron expressions in a time zone (backupd.schedule.cron): validation and DST behaviour, without waiting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backupd.schedule.cron import CronSchedule, InvalidSchedule, normalize, parse_timezone


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def iso(times: list[datetime]) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%MZ") for t in times]


def test_daily_in_utc() -> None:
    s = CronSchedule.parse("0 2 * * *", "UTC")
    assert s.next_after(utc("2026-03-01T01:59:59Z")) == utc("2026-03-01T02:00:00Z")
    assert s.next_after(utc("2026-03-01T02:00:00Z")) == utc("2026-03-02T02:00:00Z")  # strictly after
    assert s.latest_at_or_before(utc("2026-03-01T02:00:00Z")) == utc("2026-03-01T02:00:00Z")
    assert s.latest_at_or_before(utc("2026-03-01T01:59:59Z")) == utc("2026-02-28T02:00:00Z")


def test_spring_forward_day_runs_0230_once() -> None:
    # Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    s = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    runs = s.times_between(utc("2026-03-27T12:00:00Z"), utc("2026-03-31T12:00:00Z"))
    assert iso(runs) == [
        "2026-03-28T01:30Z",  # 02:30 CET
        "2026-03-29T01:00Z",  # right after the jump: 03:00 CEST, once
        "2026-03-30T00:30Z",  # 02:30 CEST
        "2026-03-31T00:30Z",
    ]
    assert s.latest_at_or_before(utc("2026-03-29T12:00:00Z")) == utc("2026-03-29T01:00:00Z")


def test_fall_back_day_runs_0230_once() -> None:
    # Europe/Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice on the wall.
    s = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    runs = s.times_between(utc("2026-10-23T12:00:00Z"), utc("2026-10-27T12:00:00Z"))
    assert iso(runs) == ["2026-10-24T00:30Z", "2026-10-25T00:30Z", "2026-10-26T01:30Z", "2026-10-27T01:30Z"]
    assert s.latest_at_or_before(utc("2026-10-25T12:00:00Z")) == utc("2026-10-25T00:30:00Z")


def test_hourly_across_dst_changes_in_new_york() -> None:
    s = CronSchedule.parse("0 * * * *", "America/New_York")
    # 2026-03-08: 02:00 EST -> 03:00 EDT: the local hour 2 does not exist; the day has 23 hourly runs.
    spring = s.times_between(utc("2026-03-08T05:00:00Z"), utc("2026-03-09T04:00:00Z"))
    assert len(spring) == 23
    # 2026-11-01: 02:00 EDT -> 01:00 EST: the day has 25 hours; hourly runs follow real hours.
    autumn = s.times_between(utc("2026-11-01T04:00:00Z"), utc("2026-11-02T05:00:00Z"))
    assert len(autumn) == 25 and len(set(autumn)) == 25 and autumn == sorted(autumn)


def test_weekly_and_monthly() -> None:
    assert CronSchedule.parse("15 3 * * 1", "UTC").next_after(utc("2026-03-04T00:00:00Z")) == utc(
        "2026-03-09T03:15:00Z"
    )
    assert CronSchedule.parse("@monthly", "UTC").next_after(utc("2026-02-15T00:00:00Z")) == utc("2026-03-01T00:00:00Z")


def test_off() -> None:
    s = CronSchedule.parse("off", "UTC")
    assert s.off and s.next_after(utc("2026-03-01T00:00:00Z")) is None
    assert s.latest_at_or_before(utc("2026-03-01T00:00:00Z")) is None
    assert normalize(" OFF ") == "off"


def test_normalize() -> None:
    assert normalize("  0   2 * *   * ") == "0 2 * * *"
    assert normalize("@daily") == "0 0 * * *"


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("61 * * * *", "bad minute"),
        ("0 24 * * *", "bad hour"),
        ("0 2 * * 8", "bad day-of-week"),
        ("0 2 30 2 *", "bad day-of-month"),
        ("* * *", "expected 5 fields"),
        ("* * * * * *", "expected 5 fields"),  # no seconds field
        ("every day", "expected 5 fields"),
        ("", "empty"),
    ],
)
def test_invalid_expressions_say_why(expression: str, reason: str) -> None:
    with pytest.raises(InvalidSchedule, match=reason):
        normalize(expression)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "Europe/"])
def test_unknown_time_zones(zone: str) -> None:
    with pytest.raises(InvalidSchedule, match="Unknown time zone"):
        parse_timezone(zone)
