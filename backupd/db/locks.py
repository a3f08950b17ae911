"""One backup or restore at a time per database, across processes (a PostgreSQL advisory lock).

The same session also holds a lock per job it runs, so any replica can tell a live job from one
whose process died (jobs.reap_orphaned_jobs): PostgreSQL releases both when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg

from ..errors import BusyError
from .connection import connect, one_row

# Arbitrary constant shared by every backupd process ("backupd" in ASCII, truncated to int8).
OPERATION_LOCK_KEY = 0x6261636B757064
BUSY_MESSAGE = "another backup or restore is running"
JOB_LOCK_CLASS = 0x62616B  # first key of the two-key job locks ("bak"); the second is job_lock_key(id)


def job_lock_key(job_id: str) -> int:
    """A job id's second advisory-lock key: 31 bits of its random tail (unique among live jobs)."""
    return int(job_id.replace("-", "")[-8:], 16) & 0x7FFFFFFF


class OperationLock:
    """A held session-level advisory lock on its own connection; release by `close()`."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def hold_job(self, job_id: str) -> None:
        """Mark `job_id` as run by this live session; call before the job's row is created."""
        self._conn.execute("SELECT pg_advisory_lock(%s, %s)", [JOB_LOCK_CLASS, job_lock_key(job_id)])

    def release_job(self, job_id: str) -> None:
        """A job run inside another (a restore's safety backup) has finished."""
        self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK_CLASS, job_lock_key(job_id)])

    def close(self) -> None:
        if not self._conn.closed:
            with suppress(psycopg.Error):  # the session ending releases the lock anyway
                self._conn.execute("SELECT pg_advisory_unlock_all()")  # the job lock too
            self._conn.close()

    def __enter__(self) -> OperationLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def try_operation_lock(database_url: str) -> OperationLock:
    """Take the lock or raise BusyError at once (the API answers 409, the CLI exits non-zero)."""
    conn = connect(database_url, application_name="backupd-lock")
    try:
        got = one_row(conn.execute("SELECT pg_try_advisory_lock(%s)", [OPERATION_LOCK_KEY]))[0]
    except BaseException:
        conn.close()
        raise
    if not got:
        conn.close()
        raise BusyError(BUSY_MESSAGE)
    return OperationLock(conn)


@contextmanager
def operation_lock(database_url: str) -> Iterator[OperationLock]:
    lock = try_operation_lock(database_url)
    try:
        yield lock
    finally:
        lock.close()
