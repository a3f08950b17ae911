"""The retention policy (backupd.retention), pure: backups at chosen times, hand-computed answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backupd.retention.policy import Candidate, Policy, plan


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def backups(*times: str, pinned: tuple[str, ...] = (), in_use: tuple[str, ...] = ()) -> list[Candidate]:
    """Each backup's id is its time, so expectations read as dates."""
    return [Candidate(t, at(t), pinned=t in pinned, in_use=t in in_use) for t in times]


def decide(candidates: list[Candidate], tz: str = "UTC", **keeps: int) -> tuple[dict[str, list[str]], list[str]]:
    policy = Policy(**{"keep_last": 0, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0, **keeps})
    result = plan(candidates, policy, tz)
    return {k.id: k.reasons for k in result.kept}, result.removed


def test_ninety_daily_backups_with_the_default_policy() -> None:
    start = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    days = [(start + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ") for n in range(90)]  # Jan 1 .. Mar 31
    assert days[-1] == "2026-03-31T02:00:00Z"
    kept, removed = decide(backups(*days), keep_last=7, keep_daily=7, keep_weekly=4, keep_monthly=6)
    # 2026-03-31 is a Tuesday of ISO week 14; weeks 13, 12, 11 end on Sundays 29, 22, 15 March.
    assert kept == {
        "2026-03-31T02:00:00Z": ["newest", "last", "daily", "weekly", "monthly"],
        "2026-03-30T02:00:00Z": ["last", "daily"],
        "2026-03-29T02:00:00Z": ["last", "daily", "weekly"],
        "2026-03-28T02:00:00Z": ["last", "daily"],
        "2026-03-27T02:00:00Z": ["last", "daily"],
        "2026-03-26T02:00:00Z": ["last", "daily"],
        "2026-03-25T02:00:00Z": ["last", "daily"],
        "2026-03-22T02:00:00Z": ["weekly"],
        "2026-03-15T02:00:00Z": ["weekly"],
        "2026-02-28T02:00:00Z": ["monthly"],
        "2026-01-31T02:00:00Z": ["monthly"],
    }
    assert len(removed) == 79 and set(removed) == set(days) - set(kept)
    assert removed[0] == "2026-03-24T02:00:00Z" and removed[-1] == "2026-01-01T02:00:00Z"  # newest first


def test_input_order_does_not_matter() -> None:
    times = ["2026-03-01T10:00:00Z", "2026-03-01T09:00:00Z", "2026-03-02T08:00:00Z"]
    assert decide(backups(*times), keep_daily=5) == decide(backups(*reversed(times)), keep_daily=5)


def test_several_backups_a_day_keep_the_newest_of_each_day() -> None:
    kept, removed = decide(
        backups(
            "2026-03-01T01:00:00Z",
            "2026-03-01T13:00:00Z",
            "2026-03-01T23:59:59Z",
            "2026-03-02T00:00:00Z",
            "2026-03-02T12:00:00Z",
        ),
        keep_daily=7,
    )
    assert kept == {"2026-03-02T12:00:00Z": ["newest", "daily"], "2026-03-01T23:59:59Z": ["daily"]}
    assert removed == ["2026-03-02T00:00:00Z", "2026-03-01T13:00:00Z", "2026-03-01T01:00:00Z"]


def test_daily_counts_days_that_have_a_backup_not_calendar_days() -> None:
    # restic: "for the last n days which have one or more snapshots"; a gap does not use up a day.
    kept, removed = decide(
        backups("2026-03-10T02:00:00Z", "2026-03-01T02:00:00Z", "2026-02-01T02:00:00Z", "2026-01-01T02:00:00Z"),
        keep_daily=3,
    )
    assert set(kept) == {"2026-03-10T02:00:00Z", "2026-03-01T02:00:00Z", "2026-02-01T02:00:00Z"}
    assert removed == ["2026-01-01T02:00:00Z"]


def test_iso_weeks_across_the_new_year() -> None:
    # ISO 2026-W01 runs Monday 2025-12-29 .. Sunday 2026-01-04; Sunday 2025-12-28 ends 2025-W52.
    times = [
        "2025-12-27T12:00:00Z",
        "2025-12-28T12:00:00Z",
        "2025-12-29T12:00:00Z",
        "2025-12-31T12:00:00Z",
        "2026-01-01T12:00:00Z",
        "2026-01-02T12:00:00Z",
    ]
    kept, removed = decide(backups(*times), keep_weekly=2)
    assert kept == {"2026-01-02T12:00:00Z": ["newest", "weekly"], "2025-12-28T12:00:00Z": ["weekly"]}
    assert removed == ["2026-01-01T12:00:00Z", "2025-12-31T12:00:00Z", "2025-12-29T12:00:00Z", "2025-12-27T12:00:00Z"]


def test_calendar_months_across_the_new_year() -> None:
    times = [
        "2025-11-30T12:00:00Z",
        "2025-12-01T12:00:00Z",
        "2025-12-31T12:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-01-15T12:00:00Z",
    ]
    kept, removed = decide(backups(*times), keep_monthly=2)
    assert kept == {"2026-01-15T12:00:00Z": ["newest", "monthly"], "2025-12-31T12:00:00Z": ["monthly"]}
    assert removed == ["2026-01-01T00:00:00Z", "2025-12-01T12:00:00Z", "2025-11-30T12:00:00Z"]


def test_buckets_are_read_in_the_schedule_time_zone_across_a_dst_change() -> None:
    # Berlin moves from CET (+1) to CEST (+2) at 2026-03-29 01:00 UTC.
    times = [
        "2026-03-28T22:30:00Z",  # 23:30 CET,  28 March in Berlin (28 March UTC)
        "2026-03-28T23:30:00Z",  # 00:30 CET,  29 March in Berlin (28 March UTC)
        "2026-03-29T21:30:00Z",  # 23:30 CEST, 29 March in Berlin (29 March UTC)
        "2026-03-29T22:30:00Z",
    ]  # 00:30 CEST, 30 March in Berlin (29 March UTC)
    kept, removed = decide(backups(*times), "Europe/Berlin", keep_daily=3)
    assert kept == {
        "2026-03-29T22:30:00Z": ["newest", "daily"],
        "2026-03-29T21:30:00Z": ["daily"],
        "2026-03-28T22:30:00Z": ["daily"],
    }
    assert removed == ["2026-03-28T23:30:00Z"]
    kept, removed = decide(backups(*times), "UTC", keep_daily=3)
    assert set(kept) == {"2026-03-29T22:30:00Z", "2026-03-28T23:30:00Z"}
    assert removed == ["2026-03-29T21:30:00Z", "2026-03-28T22:30:00Z"]


def test_the_repeated_hour_of_a_fall_back_day_is_one_day() -> None:
    # 2026-10-25: 02:30 CEST (00:30 UTC) and 02:30 CET (01:30 UTC) are the same Berlin day.
    kept, removed = decide(
        backups("2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"), "Europe/Berlin", keep_daily=7
    )
    assert kept == {"2026-10-25T01:30:00Z": ["newest", "daily"], "2026-10-24T00:30:00Z": ["daily"]}
    assert removed == ["2026-10-25T00:30:00Z"]


def test_a_month_starts_at_local_midnight() -> None:
    # 2026-01-31 23:30 UTC is 1 February 00:30 in Berlin.
    kept, _ = decide(
        backups("2026-01-31T23:30:00Z", "2026-01-31T12:00:00Z", "2026-02-10T12:00:00Z"), "Europe/Berlin", keep_monthly=2
    )
    assert set(kept) == {"2026-02-10T12:00:00Z", "2026-01-31T12:00:00Z"}
    kept, _ = decide(
        backups("2026-01-31T23:30:00Z", "2026-01-31T12:00:00Z", "2026-02-10T12:00:00Z"), "UTC", keep_monthly=2
    )
    assert set(kept) == {"2026-02-10T12:00:00Z", "2026-01-31T23:30:00Z"}


def test_keep_last_only() -> None:
    times = [f"2026-03-0{d}T02:00:00Z" for d in range(1, 6)]
    kept, removed = decide(backups(*times), keep_last=2)
    assert kept == {"2026-03-05T02:00:00Z": ["newest", "last"], "2026-03-04T02:00:00Z": ["last"]}
    assert removed == ["2026-03-03T02:00:00Z", "2026-03-02T02:00:00Z", "2026-03-01T02:00:00Z"]


def test_all_keeps_at_zero_keep_everything() -> None:
    times = [f"2026-03-0{d}T02:00:00Z" for d in range(1, 6)]
    kept, removed = decide(backups(*times))
    assert set(kept) == set(times) and removed == []
    assert kept["2026-03-01T02:00:00Z"] == ["no policy"]


def test_newest_pinned_and_in_use_are_never_removed() -> None:
    times = [f"2026-03-0{d}T02:00:00Z" for d in range(1, 6)]
    kept, removed = decide(
        backups(*times, pinned=("2026-03-01T02:00:00Z",), in_use=("2026-03-02T02:00:00Z",)),
        keep_monthly=0,
        keep_last=0,
        keep_weekly=0,
        keep_daily=0,
    )
    assert removed == []  # all zero keeps everything anyway
    kept, removed = decide(
        backups(*times, pinned=("2026-03-01T02:00:00Z",), in_use=("2026-03-02T02:00:00Z",)), keep_weekly=1
    )  # week 10 of 2026: 2 .. 8 March; 1 March is a Sunday of week 9
    assert kept == {
        "2026-03-05T02:00:00Z": ["newest", "weekly"],
        "2026-03-02T02:00:00Z": ["in use"],
        "2026-03-01T02:00:00Z": ["pinned"],
    }
    assert removed == ["2026-03-04T02:00:00Z", "2026-03-03T02:00:00Z"]


def test_no_backups() -> None:
    assert decide([], keep_last=3) == ({}, [])


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_policy_rejects_bad_keeps(bad: object) -> None:
    with pytest.raises(ValueError):
        Policy(keep_last=bad)  # type: ignore[arg-type]
