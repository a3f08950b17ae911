"""A Snapshot in the Prometheus text format (docs/operations.md lists the metrics and what they mean).

A registry per rendering with one collector that yields the snapshot's values: nothing is kept between
scrapes, so what a replica answers is what the database and the store hold right now.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .values import Snapshot

CONTENT_TYPE = CONTENT_TYPE_LATEST
KINDS = ("backup", "restore", "drill")
STATUSES = {
    "backup": ("pending", "running", "completed", "failed"),
    "restore": ("pending", "validating", "restoring", "completed", "failed"),
    "drill": ("pending", "running", "passed", "failed"),
}
TRIGGERS = ("manual", "schedule", "safety")


def _ts(value: datetime) -> float:
    return value.timestamp()


class SnapshotCollector(Collector):
    def __init__(
        self,
        snapshot: Snapshot,
        *,
        next_backup: datetime | None,
        stale_after: float | None,
        notify_undelivered: int | None,
    ) -> None:
        self.s, self.next_backup, self.stale_after = snapshot, next_backup, stale_after
        self.notify_undelivered = notify_undelivered

    def collect(self) -> Iterator[Metric]:
        s = self.s
        success = GaugeMetricFamily(
            "backupd_last_success_timestamp_seconds",
            "When the newest successful job of the kind ended (backup: of the table set; drill: passed)",
            labels=["kind"],
        )
        failure = GaugeMetricFamily(
            "backupd_last_failure_timestamp_seconds", "When the newest failed job of the kind ended", labels=["kind"]
        )
        for kind in KINDS:
            if kind in s.last_success:
                success.add_metric([kind], _ts(s.last_success[kind]))
            if kind in s.last_failure:
                failure.add_metric([kind], _ts(s.last_failure[kind]))
        yield success
        yield failure
        jobs = GaugeMetricFamily(
            "backupd_jobs_total",
            "Job rows in the database by kind and status (retention removes old backups: it can go down)",
            labels=["kind", "status"],
        )
        for kind in KINDS:
            for status in STATUSES[kind]:
                jobs.add_metric([kind, status], s.jobs.get((kind, status), 0))
        yield jobs
        duration = GaugeMetricFamily(
            "backupd_last_backup_duration_seconds", "How long the newest completed backup of the table set took"
        )
        size = GaugeMetricFamily("backupd_last_backup_size_bytes", "Archive size of the newest completed backup")
        if s.last_backup is not None:
            if s.last_backup.duration_seconds is not None:
                duration.add_metric([], s.last_backup.duration_seconds)
            if s.last_backup.size_bytes is not None:
                size.add_metric([], s.last_backup.size_bytes)
        yield duration
        yield size
        backups = GaugeMetricFamily("backupd_backups", "Completed backups kept, by trigger", labels=["trigger"])
        for trigger in sorted(set(TRIGGERS) | set(s.backups_by_trigger)):
            backups.add_metric([trigger], s.backups_by_trigger.get(trigger, 0))
        yield backups
        store_up = GaugeMetricFamily("backupd_store_up", "1 when the archive store answered this scrape's listing")
        store_up.add_metric([], 0 if s.store_bytes is None else 1)
        yield store_up
        if s.store_bytes is not None:
            yield GaugeMetricFamily("backupd_store_bytes", "Bytes of the archives in the store", value=s.store_bytes)
            yield GaugeMetricFamily("backupd_store_archives", "Archives in the store", value=s.store_objects or 0)
        nxt = GaugeMetricFamily(
            "backupd_next_scheduled_backup_timestamp_seconds",
            "When the next scheduled backup is due (absent when the schedule is off)",
        )
        if self.next_backup is not None:
            nxt.add_metric([], _ts(self.next_backup))
        yield nxt
        yield GaugeMetricFamily(
            "backupd_stale",
            "1 when no backup of the table set completed within BACKUPD_STALE_AFTER",
            value=1 if s.freshness.stale(self.stale_after) else 0,
        )
        if self.stale_after is not None:
            yield GaugeMetricFamily(
                "backupd_stale_after_seconds", "BACKUPD_STALE_AFTER in seconds", value=self.stale_after
            )
        if self.notify_undelivered is not None:
            yield GaugeMetricFamily(
                "backupd_notifications_undelivered",
                "Notifications and pings recorded but not delivered yet (being retried)",
                value=self.notify_undelivered,
            )


def render(
    snapshot: Snapshot,
    *,
    next_backup: datetime | None,
    stale_after: float | None,
    notify_undelivered: int | None = None,
) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        SnapshotCollector(
            snapshot, next_backup=next_backup, stale_after=stale_after, notify_undelivered=notify_undelivered
        )
    )
    return generate_latest(registry)
