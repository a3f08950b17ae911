"""Notifications (docs/operations.md): told once across replicas, never delaying a job.

A finished job, a scheduled backup that did not start, or no completed backup for BACKUPD_STALE_AFTER
becomes an `Event` (`events.py`) with a key of its own (the job's id, the scheduled time, the last
backup's time). The code that saw it only enqueues it (`Notifier.job_finished`, `schedule_missed`:
never a database query, never a network call, never an exception). The notifier's daemon thread
(`notifier.py`) turns it into one outbox row per target in `backupd.notifications` (`outbox.py`; the
key is the primary key, so of all replicas that see an event one row results), then leases due rows,
sends them through Apprise or GETs BACKUPD_PING_URL (`targets.py`), and retries with back-off. URLs
and their secrets stay in memory: rows, logs and answers name a target as `#1 json://host…`.
"""

from .events import Event
from .notifier import NotConfigured, Notifier, build_notifier
from .outbox import Outbox
from .targets import Target, describe_url, parse_targets

__all__ = [
    "Event",
    "NotConfigured",
    "Notifier",
    "Outbox",
    "Target",
    "build_notifier",
    "describe_url",
    "parse_targets",
]
