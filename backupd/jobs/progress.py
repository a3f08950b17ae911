"""ProgressWriter: the engines' progress callback that lands in the job row, throttled.

Why apart: it is the one bridge from an engine thread to the job tables, and it has a rule of
its own (write when something a reader would notice changed, at most a few times a second) that
the runner, the CLI's recorded backup and the safety backup share.
"""

from __future__ import annotations

import logging
import time

import psycopg

from ..progress import Progress
from .records import JobKind, JobRecords

log = logging.getLogger("backupd.jobs")

PROGRESS_WRITE_INTERVAL = 0.25  # seconds: at most ~4 progress writes a second per job


class ProgressWriter:
    """An engine progress callback that persists to the job row, throttled.

    A write happens when the step, phase or table count changes (a handful per job) or when the
    percent moved and PROGRESS_WRITE_INTERVAL has passed, so a backup streaming thousands of
    chunks costs a few row updates a second, not one per chunk.
    """

    def __init__(
        self, store: JobRecords, kind: JobKind, job_id: str, phase_status: dict[str, str] | None = None
    ) -> None:
        self.store, self.kind, self.job_id = store, kind, job_id
        self.phase_status = phase_status or {}
        self._last: tuple[str, str, int] | None = None
        self._last_percent = -1
        self._last_time = 0.0

    def __call__(self, p: Progress) -> None:
        if p.phase not in self.phase_status and p.percent >= 100:
            return  # the engine's own "finished" report; the runner completes the row itself
        key = (p.phase, p.step, p.completed_tables)
        now = time.monotonic()
        if key == self._last and (p.percent <= self._last_percent or now - self._last_time < PROGRESS_WRITE_INTERVAL):
            return
        self._last, self._last_percent, self._last_time = key, p.percent, now
        try:
            self.store.update_progress(
                self.kind,
                self.job_id,
                status=self.phase_status.get(p.phase),
                percent=p.percent,
                completed_tables=p.completed_tables,
                total_tables=p.total_tables,
                step=p.step,
            )
        except psycopg.Error as exc:  # progress is best effort; the job itself must go on
            log.warning("could not record progress of %s job %s: %s", self.kind, self.job_id, exc)
