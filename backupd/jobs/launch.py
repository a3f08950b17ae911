"""Starting a job, written once: lock → id → job lock → row → thread.

Every job — a backup or a restore asked for through the API, a scheduled backup, a drill — starts
the same way. The caller takes the lock that serialises its kind of work (it alone knows whether
busy means 409, "try next tick" or "another drill runs"). Then, here:

1. a fresh job id (time-ordered, `ids.uuid7`), unless the caller needed it earlier (an upload is
   spooled under its job's id before the job exists);
2. the job's own session lock on that id, held on the same connection as the operation lock, so
   start-up recovery and the reaper can tell a running job from one whose process died;
3. the job's row (the caller's `create_row`; it may answer None — the time was claimed by another
   replica, the backup disappeared — and then nothing starts);
4. the thread (the caller's `start`), which owns the lock from then on and releases it when the job
   ends.

Whatever fails before step 4 has handed the lock over releases it here, so a failed start never
leaves the database locked against the next backup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..db.locks import OperationLock
from ..ids import uuid7

Row = TypeVar("Row")


def launch_job(
    lock: OperationLock,
    create_row: Callable[[str], Row | None],
    start: Callable[[str, Row], None],
    *,
    job_id: str | None = None,
) -> tuple[str, Row] | None:
    """Steps 1–4 above with `lock` already taken; (job id, row), or None when `create_row` declined."""
    job_id = job_id or uuid7()
    try:
        lock.hold_job(job_id)
        row = create_row(job_id)
        if row is None:
            lock.close()
            return None
        start(job_id, row)
    except BaseException:
        lock.close()
        raise
    return job_id, row
