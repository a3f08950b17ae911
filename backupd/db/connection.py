"""Connections to the application database, with the session settings backupd relies on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import Row

from ..config import Settings
from ..errors import ConfigError, one_line

# Settings that change how values are rendered as text; pinned so archives are exact and deterministic.
OUTPUT_SETTINGS: dict[str, str] = {
    "extra_float_digits": "3",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "bytea_output": "hex",
    "TimeZone": "UTC",
    "client_encoding": "UTF8",
    "row_security": "off",
    "standard_conforming_strings": "on",
    "lc_monetary": "C",
}


def first_line(exc: BaseException) -> str:
    """libpq messages span lines (DETAIL, HINT); users get one."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe_target(url: str) -> str:
    """`database <name> on <host>` of a URL, without credentials (prompts, reports, outage messages)."""
    try:
        params = conninfo_to_dict(url)
    except Exception:  # display only
        return "the configured database"
    host = str(params.get("host") or "localhost")
    if host.startswith("/"):
        host = "local socket"
    port = f":{params['port']}" if params.get("port") and host != "local socket" else ""
    return f"database {params.get('dbname') or '?'} on {host}{port}"


# SQLSTATEs that mean the server went away, not that a statement failed: connection exceptions
# (class 08), and the server shutting down or not yet accepting connections (57P01-57P03).
_OUTAGE_STATES = ("57P01", "57P02", "57P03")


def failure_message(exc: BaseException, database_url: str) -> str:
    """What a job's row and notification say about `exc`: `errors.one_line`, except that a database
    outage reads as one and names the server (`database app on db.example:5432 did not answer: …`)."""
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        if state is None or state.startswith("08") or state in _OUTAGE_STATES:
            return f"{describe_target(database_url)} did not answer: {first_line(exc)}"
    return one_line(exc)


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, else the embedded server's (started on first use)."""
    if settings.database_url:
        return settings.database_url
    from .embedded import embedded_server_url

    return embedded_server_url(settings.embedded_pgdata)


def connect_kwargs(*, autocommit: bool = True, application_name: str = "backupd") -> dict[str, Any]:
    """psycopg.connect's keyword arguments for a session with OUTPUT_SETTINGS pinned (also the pool's)."""
    options = " ".join(f"-c {name}={value.replace(' ', '')}" for name, value in OUTPUT_SETTINGS.items())
    return {"autocommit": autocommit, "application_name": application_name, "options": options}


def connect(url: str, *, autocommit: bool = True, application_name: str = "backupd") -> psycopg.Connection:
    """Open a connection with output-affecting settings pinned (see OUTPUT_SETTINGS)."""
    try:
        return psycopg.connect(url, **connect_kwargs(autocommit=autocommit, application_name=application_name))
    except psycopg.OperationalError as exc:
        raise ConfigError(f"cannot connect to the database: {first_line(exc)}") from exc


def one_row(cursor: psycopg.Cursor[Row]) -> Row:
    """The row of a query that always returns one (an aggregate, a function call, SHOW)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the query returned no row")
    return row


def check_database(url: str, timeout_seconds: int = 3) -> None:
    """Answer within `timeout_seconds` or raise ConfigError (a fresh connection: the state right now)."""
    try:
        conninfo = make_conninfo(url, connect_timeout=timeout_seconds)
        with psycopg.connect(conninfo, autocommit=True, application_name="backupd-health") as conn:
            conn.execute(f"SET statement_timeout = '{int(timeout_seconds)}s'")
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        raise ConfigError(first_line(exc)) from exc


class ThreadConnections:
    """One connection per worker thread, opened on first use (then `setup(conn)`) and all closed
    by close(): pools of threads that each keep a session (its settings, its COPY) reuse it."""

    def __init__(
        self, url: str, *, application_name: str = "backupd", setup: Callable[[psycopg.Connection], None] | None = None
    ) -> None:
        self.url = url
        self.application_name = application_name
        self.setup = setup
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[psycopg.Connection] = []

    def get(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.url, application_name=self.application_name)
            with self._lock:
                self._opened.append(conn)
            self._local.conn = conn
            if self.setup is not None:
                self.setup(conn)
        return conn

    def opened(self) -> list[psycopg.Connection]:
        with self._lock:
            return list(self._opened)

    def close(self) -> None:
        for conn in self.opened():
            conn.close()
