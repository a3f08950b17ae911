"""Parts: the primary-key ranges a backup reads on its worker connections, in parallel.

A big table with a single integer primary key is cut into ranges of about PART_BYTES of JSON; with
a previous backup, its ranges are kept where the new snapshot proves them unchanged (those parts
are copied, backup.reuse) and the others are read again, cut smaller when they grew. Each worker
imports the exporting transaction's snapshot, so every part reads the same instant.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from dataclasses import dataclass, replace

import psycopg
from psycopg import sql

from ..archive.manifest import MEMBER_SUFFIX, ManifestPart, ManifestTable, part_names
from ..db.catalog import Table
from ..db.connection import connect, one_row
from .keys import split_key
from .pipeline import Cancelled, OrderedParts, PartSpool
from .query import CHUNK_BYTES, export_query
from .reuse import RangeProof

PART_BYTES = 16 * 1024 * 1024  # split big tables into primary-key ranges of about this much JSON
MAX_PARTS = 4096


@dataclass(frozen=True)
class Part:
    """A slice of one table's rows, by primary-key range (or the whole table)."""

    table: Table
    lower: int | None = None  # inclusive
    upper: int | None = None  # exclusive
    name: str = ""  # its member: `<table>.jsonl` when the table has one part, else `<table>.000001.jsonl`, …
    reuse: ManifestPart | None = None  # the previous backup's part this one copies (proved unchanged)

    def where(self) -> sql.Composable | None:
        if self.lower is None and self.upper is None:
            return None
        key = split_key(self.table)
        assert key is not None  # only a table with a split key has ranges
        conditions = []
        if self.lower is not None:
            conditions.append(sql.SQL("{} >= {}").format(key.ident, key.literal(self.lower)))
        if self.upper is not None:
            conditions.append(sql.SQL("{} < {}").format(key.ident, key.literal(self.upper)))
        return sql.SQL(" AND ").join(conditions)


def split_into_parts(conn: psycopg.Connection, table: Table, estimated_bytes: int) -> list[Part]:
    """Key ranges of about PART_BYTES each, for tables with a split key (backup.keys)."""
    key = split_key(table)
    if estimated_bytes <= PART_BYTES or key is None:
        return [Part(table)]
    ends = sql.SQL(  # the primary key's index, both ends (uuid has no min/max aggregate)
        "SELECT (SELECT {k} FROM {t} ORDER BY {k} LIMIT 1), (SELECT {k} FROM {t} ORDER BY {k} DESC LIMIT 1)"
    ).format(k=sql.Identifier(key.column), t=table.own_rows)
    low, high = (key.number(v) for v in one_row(conn.execute(ends)))
    if low is None or high is None or high <= low:
        return [Part(table)]
    count = min(MAX_PARTS, -(-estimated_bytes // PART_BYTES), high - low + 1)
    step = -(-(high - low + 1) // count)
    bounds = [low + i * step for i in range(1, count)]
    lowers: list[int | None] = [None, *bounds]
    uppers: list[int | None] = [*bounds, None]
    return [Part(table, lo, up) for lo, up in zip(lowers, uppers, strict=True)]


def subdivide(
    table: Table, lower: int | None, upper: int | None, rows: int, low: int | None, high: int | None, row_bytes: float
) -> list[Part]:
    """A key range to read again, cut into pieces of about PART_BYTES between its lowest and highest
    key (so a range that grew, the last one most often, does not grow without bound)."""
    pieces = min(MAX_PARTS, max(1, -(-int(rows * row_bytes) // PART_BYTES)))
    if pieces <= 1 or low is None or high is None or high <= low or split_key(table) is None:
        return [Part(table, lower, upper)]
    step = -(-(high - low + 1) // pieces)
    bounds = [low + i * step for i in range(1, pieces) if low + i * step <= high]
    return [Part(table, lo, up) for lo, up in zip([lower, *bounds], [*bounds, upper], strict=True)]


def plan_parts(
    conn: psycopg.Connection,
    table: Table,
    estimate: int,
    before: ManifestTable | None,
    proofs: list[RangeProof] | None,
) -> list[Part]:
    """The table's parts: the previous backup's key ranges where it has usable ones (each proved
    unchanged is reused, each other one read again, cut smaller when it grew), else new ranges."""
    if before is None or proofs is None:
        return split_into_parts(conn, table, estimate)
    row_bytes = (before.bytes or 0) / before.count if before.count else 256.0
    parts: list[Part] = []
    for proof in proofs:
        if proof.proved:
            parts.append(Part(table, proof.lower, proof.upper, reuse=proof.part))
        else:
            parts += subdivide(table, proof.lower, proof.upper, proof.count, proof.min_key, proof.max_key, row_bytes)
    return parts


def name_parts(tables: list[Table], parts: dict[int, list[Part]]) -> dict[int, list[Part]]:
    """Give every part its member name; a table whose part names would be another table's member
    names (a table `a` in parts beside a table `a.000001`) is read as one part instead."""
    members = {t.key + MEMBER_SUFFIX for t in tables}
    named: dict[int, list[Part]] = {}
    for table in tables:
        planned = parts[table.oid]
        names = part_names(table.key, len(planned))
        if len(planned) > 1 and members & set(names):
            planned, names = [Part(table)], part_names(table.key, 1)
        named[table.oid] = [replace(part, name=name) for part, name in zip(planned, names, strict=True)]
    return named


def open_worker(database_url: str, snapshot_id: str) -> psycopg.Connection:
    """A connection reading the exporting transaction's snapshot (same data, in parallel)."""
    conn = connect(database_url, application_name="backupd-backup-worker")
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
    set_backup_transaction(conn)
    return conn


def set_backup_transaction(conn: psycopg.Connection) -> None:
    """The settings of every backup transaction (the exporting one and the workers').

    No timeout: a backup of a large table is one long statement. enable_sort off: read big tables
    in primary-key index order rather than sorting them. JIT off: with sorting disabled, even the
    small catalog and proof queries look costly enough to be JIT-compiled, and compiling costs
    100-200 ms a query (measured on PostgreSQL 15: an unchanged 200k-event backup took 3.8 s with
    JIT, 1.9 s without; a full one 11.0 s and 8.4 s); the row_to_json COPY gains nothing from it.
    """
    conn.execute("SET LOCAL statement_timeout = 0")
    conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
    conn.execute("SET LOCAL enable_sort = off")
    conn.execute("SET LOCAL jit = off")


def produce_part(conn: psycopg.Connection, part: Part, spool: PartSpool, cancelled: threading.Event) -> None:
    """COPY one part into its spool in ~1 MiB writes."""
    buf = bytearray()
    with conn.cursor() as cur:
        with cur.copy(export_query(part.table, where=part.where())) as copy:
            for data in copy:
                buf += data
                if len(buf) >= CHUNK_BYTES:
                    if cancelled.is_set():
                        raise Cancelled
                    spool.append(buf)
                    buf.clear()
        if buf:
            spool.append(buf)
        spool.finish(cur.rowcount)


def estimated_bytes(conn: psycopg.Connection, tables: list[Table]) -> dict[int, int]:
    """Rough JSON size per table from the catalog (for progress only; never for correctness)."""
    rows = conn.execute(
        "SELECT oid, greatest(relpages, 1)::bigint * 8192 FROM pg_class WHERE oid = ANY(%s)",
        [[t.oid for t in tables]],
    ).fetchall()
    return {oid: int(size * 1.4) for oid, size in rows}


def cancel_workers(pool: OrderedParts[Part, psycopg.Connection], workers: list[psycopg.Connection]) -> None:
    """Stop the workers' COPYs after a failure (the spools stop taking data, the server stops sending)."""
    pool.cancelled.set()
    for worker in workers:
        with suppress(psycopg.Error, AttributeError):
            worker.cancel_safe()
