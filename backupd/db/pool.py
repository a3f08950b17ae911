"""The connection pool for short queries on backupd's own tables (jobs, drills, schedule, retention).

Why a pool: the API answers status polls while a backup streams, and the runner, the scheduler
and the reaper write rows all the while; those queries take a few hundred microseconds and must
neither wait for an engine's connection nor open a session (milliseconds, a backend process)
each time. The engines never use it: they open their own sessions (db.connection.connect).

It is psycopg_pool's ConnectionPool with backupd's sessions (autocommit, OUTPUT_SETTINGS pinned,
application_name "backupd-jobs", from db.connection.connect_kwargs) and these rules:

* Lazy: min_size 0, so creating a pool never touches the database. Start-up, the CLI and the
  API's first request do not wait on a database that is down; the first query opens a session.
* A connection that broke is never handed out again: psycopg_pool discards a returned
  connection whose session is gone (and rolls back or closes one left mid-transaction or
  mid-query). When one broke (a server restart, a terminated backend), the idle ones are
  checked at once (`check()`), so the rest of a restart's dead sessions fail nobody else.
* A caller waits at most `timeout` seconds for a connection, then gets PoolTimeout, a
  psycopg.OperationalError that the API answers 503 "Database unavailable: …". When the
  pool could not connect, its message says why, as db.connection.connect's ConfigError does
  ("cannot connect to the database: <libpq's first line>").
* A failed connection attempt is retried in the background for `timeout` seconds at most
  (reconnect_timeout), so once the database is back the next request connects at once rather
  than waiting out a long back-off.

It replaced a 45-line home-made pool (issue 22); the measurement is in the issue's closing note.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg_pool import PoolTimeout

from .connection import connect_kwargs, first_line

APPLICATION_NAME = "backupd-jobs"  # how pg_stat_activity shows the pool's sessions
MAX_SIZE = 8  # sessions at most; callers beyond that wait (their queries are short)
WAIT_SECONDS = 5.0  # longest wait for a connection before PoolTimeout (503 in the API)
CONNECT_TIMEOUT = 10  # seconds for one connection attempt (libpq connect_timeout): no worker hangs

__all__ = ["APPLICATION_NAME", "ConnectionPool", "PoolTimeout"]


class ConnectionPool(psycopg_pool.ConnectionPool[psycopg.Connection[Any]]):
    """Autocommit sessions with backupd's settings, borrowed with `with pool.connection() as conn:`."""

    def __init__(self, database_url: str, *, max_size: int = MAX_SIZE, timeout: float = WAIT_SECONDS) -> None:
        self.database_url = database_url
        self._last_failure: str | None = None  # why the latest connection attempt failed; None once one succeeds
        kwargs = {**connect_kwargs(application_name=APPLICATION_NAME), "connect_timeout": CONNECT_TIMEOUT}
        super().__init__(
            database_url,
            kwargs=kwargs,
            min_size=0,
            max_size=max_size,
            open=True,
            name=APPLICATION_NAME,
            timeout=timeout,
            reconnect_timeout=timeout,
        )

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        broke = False
        try:
            with super().connection(timeout) as conn:
                try:
                    yield conn
                finally:
                    broke = conn.broken
        finally:
            if broke and not self.closed:
                self.check()  # the session died: its idle siblings probably did too (a restart)

    def getconn(self, timeout: float | None = None) -> psycopg.Connection[Any]:
        try:
            return super().getconn(timeout)
        except PoolTimeout:
            reason = self._last_failure
            if reason is None:  # the database answers; every connection is busy
                raise
            waited = self.timeout if timeout is None else timeout
            raise PoolTimeout(f"cannot connect to the database: {reason} (no connection within {waited:g} s)") from None

    def _connect(self, timeout: float | None = None) -> psycopg.Connection[Any]:
        # psycopg_pool's one path to a new connection (its workers call it). Overridden only to remember
        # why an attempt failed, for getconn's message: were it renamed, the messages would merely be
        # psycopg_pool's own ("couldn't get a connection after 5.00 sec").
        try:
            conn = super()._connect(timeout)
        except Exception as exc:
            self._last_failure = first_line(exc)
            raise
        self._last_failure = None
        return conn
