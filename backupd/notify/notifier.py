"""The notifier: a daemon thread per replica that records events in the outbox and delivers them.

Why a thread of its own: a job that ends, or the scheduler that sees a time pass, must not wait on a
database query, let alone on a mail server that does not answer. They call `job_finished` or
`schedule_missed`, which append to an in-memory queue and return; the thread then decides (a success
is worth telling only after a failure, which needs a query), records (once across replicas, outbox.py),
and sends with back-off. If the database is down the queue waits in memory (bounded) and is recorded
once it answers; if a receiver is down the row is tried again after 2 s, 4 s, 8 s, … (at most every
RETRY_MAX seconds) until it is delivered or GIVE_UP_AFTER old. The same thread looks every
`stale_every` seconds whether any backup completed within BACKUPD_STALE_AFTER.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..config import Settings
from ..db.pool import ConnectionPool
from ..durations import seconds
from ..errors import BackupdError, ConfigError, one_line
from . import events
from .events import Event
from .outbox import Freshness, Outbox
from .targets import Target, parse_targets, ping_target, send_apprise, send_ping

log = logging.getLogger("backupd.notify")

POLL_SECONDS = 2.0  # looks for due rows (retries, rows another replica could not send) this often
RETRY_BASE, RETRY_MAX = 2.0, 300.0  # back-off of a failed delivery: 2 s, 4 s, 8 s, … at most 5 min
GIVE_UP_AFTER = 24 * 3600.0  # a row not delivered within a day is given up (said in the log)
LEASE_SECONDS = 120.0  # a row being sent is left alone by other replicas this long
STALE_EVERY = 30.0  # seconds between looks for a stale backup (less when BACKUPD_STALE_AFTER is short)
QUEUE_LIMIT = 10_000  # events kept in memory while the database does not answer


class NotConfigured(BackupdError):
    """POST /api/notify/test without BACKUPD_NOTIFY."""


def stale_seconds(text: str) -> float | None:
    """BACKUPD_STALE_AFTER in seconds ('36h', '90min', '2d'; a bare number is seconds); None for 'off'."""
    value = text.strip().lower()
    if value in ("off", "0", "none", ""):
        return None
    try:
        result = float(value) if value.replace(".", "", 1).isdigit() else seconds(value)
    except ValueError:
        raise ConfigError(f"BACKUPD_STALE_AFTER: {text!r} is not a duration such as 36h, 90min or 2d, or off") from None
    return result if result > 0 else None


class Notifier:
    def __init__(
        self,
        outbox: Outbox,
        targets: Sequence[Target],
        *,
        ping: Target | None = None,
        stale_after: float | None = None,
        stale_after_text: str = "36h",
        poll_seconds: float = POLL_SECONDS,
        retry_base: float = RETRY_BASE,
        retry_max: float = RETRY_MAX,
        give_up_after: float = GIVE_UP_AFTER,
    ) -> None:
        self.outbox, self.targets, self.ping = outbox, list(targets), ping
        self.stale_after, self.stale_after_text = stale_after, stale_after_text
        self.poll_seconds, self.retry_base, self.retry_max = poll_seconds, retry_base, retry_max
        self.give_up_after = give_up_after
        self.stale_every = min(STALE_EVERY, max(0.2, (stale_after or STALE_EVERY) / 4))
        self._queue: deque[tuple[str, Any]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backupd-notifier", daemon=True)
        self._warned: set[str] = set()

    # -- what the rest of backupd calls: enqueue and return, never raise ---------------------------

    @property
    def configured(self) -> bool:
        return bool(self.targets)

    def job_finished(self, kind: str, row: dict[str, Any]) -> None:
        """A backup, restore or drill ended (its row as it is now); called by the job and drill records."""
        keep = ("id", "status", "trigger", "dry_run", "error_message", "completed_at")
        self._put(("job", (kind, {k: row.get(k) for k in keep})))

    def schedule_missed(self, times: Sequence[datetime], reason: str) -> None:
        """Scheduled backup times that passed without a backup of their own (the scheduler)."""
        if times:
            self._put(("event", events.schedule_missed(sorted(times), reason)))

    def send_test(self) -> int:
        """Queue a test notification to every target; how many. NotConfigured without BACKUPD_NOTIFY."""
        if not self.targets:
            raise NotConfigured("No notification target configured: set BACKUPD_NOTIFY to one or more Apprise URLs")
        self._put(("event", events.test()))
        return len(self.targets)

    def _put(self, item: tuple[str, Any]) -> None:
        if not self.targets and self.ping is None:
            return
        with self._lock:
            if len(self._queue) >= QUEUE_LIMIT:
                self._queue.popleft()
            self._queue.append(item)
        self._wake.set()

    # -- the thread ---------------------------------------------------------------------------------

    def start(self) -> Notifier:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Record what is still queued (another replica sends it if this one cannot), then end."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Tests: True once the queue is empty and nothing due is left undelivered by this replica."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                empty = not self._queue
            if empty and self.outbox.undelivered() == 0:
                return True
            time.sleep(0.05)
        return False

    def _run(self) -> None:
        next_stale = 0.0
        while True:
            stopping = self._stop.is_set()
            self._guard("record", self._drain)
            if not stopping and self.stale_after is not None and time.monotonic() >= next_stale:
                next_stale = time.monotonic() + self.stale_every
                self._guard("stale", self._check_stale)
            if stopping:
                return
            self._guard("deliver", self._deliver_due)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _guard(self, what: str, step: Any) -> None:
        try:
            step()
            self._warned.discard(what)
        except Exception as exc:  # a database outage must not end the thread; said once until it passes
            if what not in self._warned:
                self._warned.add(what)
                log.warning("notifications: could not %s: %s", what, one_line(exc))

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                item = self._queue[0]
            kind, payload = item
            found = self._job_events(*payload) if kind == "job" else [payload]
            for event in found:
                self._record(event)
            with self._lock:
                if self._queue and self._queue[0] is item:
                    self._queue.popleft()

    def _job_events(self, kind: str, row: dict[str, Any]) -> list[Event]:
        found: list[Event] = []
        if kind == "backup" and row.get("trigger") == "schedule" and self.ping is not None:
            found.append(events.ping(row))
        if not self.targets or (kind == "backup" and row.get("trigger") == "safety"):
            return found  # a safety backup's failure is its restore's, which is told
        if row.get("status") == "failed":
            found.append(events.job_failed(kind, row))
        elif self.outbox.previous_outcome(kind, row) == "failed":
            found.append(events.job_recovered(kind, row))
        return found

    def _record(self, event: Event) -> None:
        targets = ["ping"] if event.event == "ping" else [t.id for t in self.targets]
        if self.outbox.record(event, targets):
            log.info("notification %s recorded", event.key)
            self._wake.set()

    def _check_stale(self) -> None:
        fresh: Freshness = self.outbox.freshness()
        if fresh.stale(self.stale_after) and self.targets:
            self._record(events.stale(fresh.last_completed_at, fresh.since, self.stale_after_text))

    def _deliver_due(self) -> None:
        by_id = {t.id: t for t in self.targets}
        if self.ping is not None:
            by_id["ping"] = self.ping
        if not by_id:
            return
        for row in self.outbox.lease(list(by_id), LEASE_SECONDS):
            target = by_id[row["target"]]
            if row["event"] == "ping":
                error = send_ping(target, failed=row["body"] == "fail")
            else:
                error = send_apprise(target, row["title"], row["body"])
            if error is None:
                self.outbox.delivered(row["key"], row["target"])
                log.info("notification %s sent to %s (attempt %d)", row["key"], target.label, row["attempts"])
                continue
            retry_in = min(self.retry_max, self.retry_base * 2 ** (row["attempts"] - 1))
            message = f"{target.label}: {error}"
            if self.outbox.failed(row["key"], row["target"], message, retry_in, self.give_up_after):
                log.warning("notification %s given up after %d attempts: %s", row["key"], row["attempts"], message)
            else:
                log.warning(
                    "notification %s not delivered (attempt %d, next in %gs): %s",
                    row["key"],
                    row["attempts"],
                    retry_in,
                    message,
                )


def build_notifier(settings: Settings, pool: ConnectionPool) -> Notifier:
    """The notifier of BACKUPD_NOTIFY, BACKUPD_PING_URL and BACKUPD_STALE_AFTER (ConfigError when one is bad)."""
    return Notifier(
        Outbox(pool),
        parse_targets(settings.notify),
        ping=ping_target(settings.ping_url),
        stale_after=stale_seconds(settings.stale_after),
        stale_after_text=settings.stale_after,
    )
