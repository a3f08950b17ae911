"""Rows of backupd.audit_log: append one, list them newest first (the SQL of the audit trail).

Writing a row never makes the caller fail: a database that does not answer costs one log line
(`record` returns False), never the request or the command being recorded.
"""

from __future__ import annotations

import getpass
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..db.connection import connect, first_line, one_row
from ..db.migrations import apply_migrations
from ..db.pool import ConnectionPool

log = logging.getLogger("backupd.audit")

_COLUMNS = ("key_name", "role", "source", "client", "method", "path", "action", "target_id", "job_id", "status")
_INSERT = f"INSERT INTO backupd.audit_log ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
_SELECT = "SELECT id, at, " + ", ".join(_COLUMNS) + " FROM backupd.audit_log"


@dataclass(frozen=True)
class AuditEntry:
    """One record; `status` is the HTTP status answered (CLI: 0 done, 1 failed)."""

    method: str
    path: str
    action: str
    status: int
    key_name: str | None = None
    role: str | None = None
    source: str = "api"
    client: str | None = None
    target_id: str | None = None
    job_id: str | None = None

    def values(self) -> list[Any]:
        return [getattr(self, column) for column in _COLUMNS]


def _write(conn: psycopg.Connection[Any], entry: AuditEntry) -> None:
    conn.execute(_INSERT, entry.values())


class AuditRecords:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def record(self, entry: AuditEntry) -> bool:
        """Append one row; False (and one log line, without the cause's details beyond one line) when it fails."""
        try:
            with self.pool.connection() as conn:
                _write(conn, entry)
            return True
        except Exception as exc:  # the audited request has been answered; it must not fail now
            log.warning("audit row not written (%s %s %s): %s", entry.method, entry.path, entry.status, first_line(exc))
            return False

    def page(self, limit: int, before: int | None = None) -> list[dict[str, Any]]:
        """Up to `limit` rows newest first, those with an id below `before` when given."""
        query = _SELECT + (" WHERE id < %s" if before is not None else "") + " ORDER BY id DESC LIMIT %s"
        params: list[Any] = [before, limit] if before is not None else [limit]
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return list(cur.execute(query, params))


def cli_user() -> str:
    """The operating-system user a CLI command runs as (its audit rows' key name)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name at all (a container without passwd entry): still audit
        return "unknown"


def record_cli(
    database_url: str,
    command: str,
    action: str,
    *,
    ok: bool,
    target_id: str | None = None,
    job_id: str | None = None,
) -> bool:
    """One row for a CLI restore, delete or prune (key name: the OS user); False when it could not be written."""
    entry = AuditEntry(
        method="CLI",
        path=command,
        action=action,
        status=0 if ok else 1,
        key_name=cli_user(),
        source="cli",
        client=socket.gethostname(),
        target_id=target_id,
        job_id=job_id,
    )
    try:
        with connect(database_url, application_name="backupd-audit") as conn:
            if one_row(conn.execute("SELECT to_regclass('backupd.migrations')"))[0] is None:
                return False  # a database backupd never kept state in (a restore into an empty one): left as it is
            apply_migrations(conn)  # the audit table, where an older backupd ran
            _write(conn, entry)
        return True
    except Exception as exc:  # the command has done its work; the audit row must not undo that
        log.warning("audit row not written (%s): %s", command, first_line(exc))
        return False


@contextmanager
def audited_command(database_url: str, command: str, action: str, *, target_id: str | None = None) -> Iterator[None]:
    """Record a CLI command's row when the block ends: done, or failed (and the failure goes on)."""
    try:
        yield
    except BaseException:
        record_cli(database_url, command, action, ok=False, target_id=target_id)
        raise
    record_cli(database_url, command, action, ok=True, target_id=target_id)
