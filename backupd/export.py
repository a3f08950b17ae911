"""Event export: the events with `since <= started_at < until` as JSON lines, streamed.

One COPY inside one REPEATABLE READ READ ONLY transaction (one snapshot), the same row encoding
as the archive members (backup.query.export_query), ordered by (started_at, id) so consumers can
resume from the last line they saw. Chunks of ~1 MiB leave the generator as they arrive, so
memory stays constant whatever the row count; the sort, if any, happens in PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from datetime import UTC, datetime, timedelta

from psycopg import sql

from .backup.query import CHUNK_BYTES, export_query
from .db.catalog import describe_tables
from .db.connection import connect

EVENTS_TABLE = "events"
ORDER = ("started_at", "id")
# A '+' in a query string decodes to a space: "…T00:00:00 02:00" is what "…T00:00:00+02:00" becomes.
_SPACE_OFFSET = re.compile(r"^(.*\d)\s(\d{2}(?::?\d{2})?)$")


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 → aware datetime (naive means UTC). ValueError with the offending text otherwise."""
    raw = text.strip()
    candidates = [raw]
    match = _SPACE_OFFSET.match(raw)
    if match and "T" in raw.upper():
        candidates.append(f"{match.group(1)}+{match.group(2)}")
    for candidate in candidates:
        try:
            value = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    raise ValueError(f"Invalid timestamp: {text!r} (expected ISO 8601, e.g. 2026-01-31T00:00:00Z)")


def range_condition(since: datetime | None, until: datetime | None) -> sql.Composable | None:
    """The WHERE clause for `since <= started_at < until` (either bound optional)."""
    parts: list[sql.Composable] = []
    if since is not None:
        parts.append(sql.SQL("t.started_at >= {}").format(_instant(since)))
    if until is not None:
        parts.append(sql.SQL("t.started_at < {}").format(_instant(until)))
    return sql.SQL(" AND ").join(parts) if parts else None


def _instant(value: datetime) -> sql.Composable:
    """The instant as a timestamptz expression, computed by PostgreSQL from local time and offset:
    PostgreSQL refuses offsets past ±15:59 that RFC 3339 allows (up to ±23:59), and near year 1 or
    9999 the UTC instant may lie outside what a Python datetime holds."""
    offset = value.utcoffset() or timedelta(0)
    return sql.SQL("(({}::timestamp - {}::interval) AT TIME ZONE 'UTC')").format(
        sql.Literal(value.replace(tzinfo=None)), sql.Literal(offset)
    )


def iter_events(
    database_url: str,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    table: str = EVENTS_TABLE,
    chunk_bytes: int = CHUNK_BYTES,
) -> Generator[bytes, None, None]:
    """Yield the export as byte chunks of about `chunk_bytes`, each ending on a line boundary.

    Closing the generator early (a client that disconnects) cancels the COPY on the server
    (psycopg cancels an interrupted COPY TO) and closes the connection.
    """
    conn = connect(database_url, application_name="backupd-export")
    try:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        described = describe_tables(conn, [table])[0]  # first query: fixes the snapshot
        query = export_query(described, where=range_condition(since, until), order_by=list(ORDER))
        buf = bytearray()
        with conn.cursor() as cur, cur.copy(query) as copy:
            for data in copy:
                buf += data
                if len(buf) >= chunk_bytes:
                    cut = buf.rfind(b"\n") + 1  # COPY rows arrive whole, but never rely on it
                    if cut:
                        yield bytes(buf[:cut])
                        del buf[:cut]
        if buf:
            yield bytes(buf)
        conn.execute("COMMIT")
    finally:
        conn.close()
