"""The backup engine: one consistent snapshot of a table set, streamed into an archive.

Data path: the set is locked and its snapshot exported by one transaction; worker connections
import that snapshot and run COPY (SELECT row_to_json …) TO STDOUT over primary-key ranges
("parts") in parallel; parts are read back in order → SHA-256 and line count → stream-zip
(deflate) → a temporary file, fsynced and renamed. Memory is bounded by chunk sizes, not tables.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .. import ARCHIVE_FORMAT_VERSION, DEFAULT_TABLES, __version__
from ..archive.manifest import MANIFEST_NAME, Manifest, ManifestColumn, ManifestTable
from ..archive.writer import (
    DEFAULT_COMPRESSION_LEVEL,
    ArchiveTarget,
    MemberDigest,
    write_archive,
)
from ..db.catalog import Table, describe_tables, resolve_table
from ..db.connection import OUTPUT_SETTINGS, connect
from ..db.definitions import TableDefinition, TypeDefinition, capture_definitions
from ..errors import BackupdError
from ..ids import uuid7
from ..progress import MonotonicProgress, ProgressCallback
from .pipeline import Cancelled, OrderedParts, PartSpool

CHUNK_BYTES = 1024 * 1024
PART_BYTES = 16 * 1024 * 1024  # split big tables into primary-key ranges of about this much JSON
# Unread bytes one part may keep on local disk: with workers + 1 parts alive and 2 MiB segments,
# a backup needs at most ~3 x (12 + 1 + 2) MiB of local disk whatever the archive's size
# (docs/operations.md: under 64 MiB).
SPOOL_LIMIT = 12 * 1024 * 1024
MAX_PARTS = 4096
DEFAULT_WORKERS = 2
LOCK_TIMEOUT = "30s"  # a restore's swap holds its locks briefly; wait for it, but not forever

# CSV with quote and delimiter bytes that row_to_json never emits (it escapes every control
# character), so each row arrives verbatim as one JSON line without COPY text-format escaping.
COPY_OPTIONS = sql.SQL("WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')")


@dataclass(frozen=True)
class BackupResult:
    path: Path | ArchiveTarget  # the output as given; str() of a store object is its location
    size_bytes: int
    manifest: Manifest
    seconds: float


def export_query(
    table: Table, where: sql.Composable | None = None, order_by: Sequence[str] | None = None
) -> sql.Composed:
    """COPY … TO STDOUT producing one JSON object per row, in primary-key order.

    json/jsonb columns are cast to text so they travel as exact strings (see Column.carried_as_text).
    Other arrays stay JSON arrays, except those with a lower bound other than 1 (which a JSON
    array cannot carry): they travel as their PostgreSQL text (`"[0:2]={7,8,9}"`) in a JSON string,
    which json_to_recordset reads back exactly. The check costs little per row: array_lower and
    array_ndims, and array_dims with a regex only for multi-dimensional arrays. The row is built in
    a LATERAL subquery (flattened by the planner) so the sort keys keep their own types even when
    the JSON value is rewritten.
    """
    items = []
    wrapped: set[str] = set()  # columns whose JSON value is not the column itself: sort by t.<column>
    for col in table.columns:
        ident = sql.Identifier(col.name)
        if col.carried_as_text:
            items.append(sql.SQL("t.{}::text AS {}").format(ident, ident))
        elif col.is_array:
            wrapped.add(col.name)
            items.append(
                sql.SQL(
                    "CASE WHEN array_lower(t.{0}, 1) <> 1"
                    " OR (array_ndims(t.{0}) > 1 AND array_dims(t.{0}) ~ '\\[(?!1:)')"
                    " THEN to_json(t.{0}::text) ELSE to_json(t.{0}) END AS {0}"
                ).format(ident)
            )
        else:
            items.append(sql.SQL("t.{}").format(ident))
    only = sql.SQL("") if table.partitioned else sql.SQL("ONLY ")  # a partitioned parent holds no rows itself
    select = sql.SQL("SELECT row_to_json(r.*) FROM {}{} AS t CROSS JOIN LATERAL (SELECT {}) AS r").format(
        only, table.ident, sql.SQL(", ").join(items)
    )
    if where is not None:
        select += sql.SQL(" WHERE ") + where
    keys = list(order_by) if order_by is not None else list(table.primary_key)
    order: sql.Composable
    if keys:
        order = sql.SQL(", ").join(sql.SQL("t.{}" if k in wrapped else "r.{}").format(sql.Identifier(k)) for k in keys)
    else:  # no primary key: order by the whole row so identical data still gives identical bytes
        order = sql.SQL('row_to_json(r.*)::text COLLATE "C"')
    # `r.*`, not `r`: a bare `r` would mean a column named r if the table has one (any name may exist).
    select += sql.SQL(" ORDER BY ") + order
    return sql.SQL("COPY ({}) TO STDOUT {}").format(select, COPY_OPTIONS)


def _row(cursor: psycopg.Cursor[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The one row of a query that always returns one."""
    row = cursor.fetchone()
    assert row is not None
    return row


def begin_snapshot(conn: psycopg.Connection, tables_sql: sql.Composable) -> None:
    """Open the REPEATABLE READ READ ONLY transaction, locking the set before its snapshot is taken.

    LOCK does not take the snapshot; the first query after it does. So a restore's TRUNCATE can
    never commit between our snapshot and our reads (which would make tables look empty).
    """
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    conn.execute("SET LOCAL statement_timeout = 0")
    conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
    conn.execute("SET LOCAL enable_sort = off")  # prefer primary-key index order over sorting big tables
    try:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(tables_sql))
    except psycopg.errors.LockNotAvailable as exc:
        raise BackupdError(f"the tables are locked by another session (waited {LOCK_TIMEOUT})") from exc


@dataclass(frozen=True)
class Part:
    """A slice of one table's rows, by primary-key range (or the whole table)."""

    table: Table
    lower: int | None = None  # inclusive
    upper: int | None = None  # exclusive

    def where(self) -> sql.Composable | None:
        if self.lower is None and self.upper is None:
            return None
        key = sql.Identifier(self.table.primary_key[0])
        conditions = []
        if self.lower is not None:
            conditions.append(sql.SQL("t.{} >= {}").format(key, sql.Literal(self.lower)))
        if self.upper is not None:
            conditions.append(sql.SQL("t.{} < {}").format(key, sql.Literal(self.upper)))
        return sql.SQL(" AND ").join(conditions)


def split_into_parts(conn: psycopg.Connection, table: Table, estimated_bytes: int) -> list[Part]:
    """Key ranges of about PART_BYTES each, for tables with a single integer primary key."""
    if estimated_bytes <= PART_BYTES or len(table.primary_key) != 1:
        return [Part(table)]
    if table.column(table.primary_key[0]).type_sql not in ("integer", "bigint", "smallint"):
        return [Part(table)]
    key = sql.Identifier(table.primary_key[0])
    low, high = _row(conn.execute(sql.SQL("SELECT min({k}), max({k}) FROM {t}").format(k=key, t=table.ident)))
    if low is None or high <= low:
        return [Part(table)]
    count = min(MAX_PARTS, -(-estimated_bytes // PART_BYTES), high - low + 1)
    step = -(-(high - low + 1) // count)
    bounds = [low + i * step for i in range(1, count)]
    lowers: list[int | None] = [None, *bounds]
    uppers: list[int | None] = [*bounds, None]
    return [Part(table, lo, up) for lo, up in zip(lowers, uppers, strict=True)]


def outside_parents(conn: psycopg.Connection, tables: list[Table]) -> list[str]:
    """One warning per foreign key to a table outside the set: such a set cannot be restored into
    an empty database on its own (docs/restore-guarantees.md), so the backup says so."""
    in_set = {t.oid for t in tables}
    missing = {(t.key, fk.ref_table_oid) for t in tables for fk in t.foreign_keys if fk.ref_table_oid not in in_set}
    if not missing:
        return []
    names: dict[int, str] = dict(
        conn.execute(
            "SELECT c.oid, CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY(%s)",
            [[oid for _, oid in missing]],
        ).fetchall()
    )
    return [
        f"{key} references {names[oid]}, which is not in the backup"
        for key, oid in sorted(missing, key=lambda m: (m[0], names[m[1]]))
    ]


def _open_worker(database_url: str, snapshot_id: str) -> psycopg.Connection:
    """A connection reading the exporting transaction's snapshot (same data, in parallel)."""
    conn = connect(database_url, application_name="backupd-backup-worker")
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
    conn.execute("SET LOCAL statement_timeout = 0")
    conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
    conn.execute("SET LOCAL enable_sort = off")
    return conn


def _produce_part(conn: psycopg.Connection, part: Part, spool: PartSpool, cancelled: threading.Event) -> None:
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


def _estimated_bytes(conn: psycopg.Connection, tables: list[Table]) -> dict[int, int]:
    """Rough JSON size per table from the catalog (for progress only; never for correctness)."""
    rows = conn.execute(
        "SELECT oid, greatest(relpages, 1)::bigint * 8192 FROM pg_class WHERE oid = ANY(%s)",
        [[t.oid for t in tables]],
    ).fetchall()
    return {oid: int(size * 1.4) for oid, size in rows}


def _sequence_values(conn: psycopg.Connection, table: Table) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for link in table.sequences:
        row = _row(conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(link.sequence))))
        values[link.column] = row[0] if row[1] else None
    return values


@dataclass(frozen=True)
class _Snapshot:
    """What the exporting transaction reads before any row: the tables and what the manifest says of them."""

    id: str  # pg_export_snapshot(), imported by the workers
    tables: list[Table]
    types: list[TypeDefinition]
    definitions: dict[str, TableDefinition]
    warnings: list[str]
    server_version: str
    estimates: dict[int, int]  # table oid → rough JSON bytes
    sequences: dict[int, dict[str, int | None]]  # table oid → column → last value
    parts: dict[int, list[Part]]  # table oid → its key ranges, in order

    @property
    def all_parts(self) -> list[Part]:
        return [p for t in self.tables for p in self.parts[t.oid]]


def _take_snapshot(conn: psycopg.Connection, tables: Sequence[str]) -> _Snapshot:
    """Lock the set, fix and export the snapshot, and read the catalog under it (the first query
    after the LOCK is describe_tables: it takes the snapshot)."""
    names = [resolve_table(conn, name) for name in tables]  # autocommit: takes no snapshot
    begin_snapshot(conn, sql.SQL(", ").join(sql.Identifier(schema, rel) for _, schema, rel in names))
    described = describe_tables(conn, list(tables))  # first query: fixes the snapshot
    snapshot_id = _row(conn.execute("SELECT pg_export_snapshot()"))[0]
    types, definitions = capture_definitions(conn, described)
    warnings = outside_parents(conn, described)
    server_version = _row(conn.execute("SHOW server_version"))[0]
    estimates = _estimated_bytes(conn, described)
    sequences = {t.oid: _sequence_values(conn, t) for t in described}
    parts = {t.oid: split_into_parts(conn, t, estimates[t.oid]) for t in described}
    return _Snapshot(snapshot_id, described, types, definitions, warnings, server_version, estimates, sequences, parts)


class _Members:
    """The archive's members in order, for write_archive: one per table, streamed from the parts as
    the workers spool them (hashed, line-counted, with progress), then the manifest, built from
    those digests once every table member was consumed. `.manifest` is set when it is yielded."""

    def __init__(
        self,
        snapshot: _Snapshot,
        parts: Iterator[tuple[Part, PartSpool]],
        tracker: MonotonicProgress,
        *,
        backup_id: str,
        created_at: datetime,
    ) -> None:
        self._snapshot = snapshot
        self._parts = parts  # (part, spool) in the snapshot's table order
        self._tracker = tracker
        self._backup_id = backup_id
        self._created_at = created_at
        self._total_estimate = sum(snapshot.estimates.values()) or 1
        self._contents: dict[str, ManifestTable] = {}
        self.manifest: Manifest | None = None

    def __iter__(self) -> Iterator[tuple[str, Iterator[bytes]]]:
        done_estimate = 0
        for index, table in enumerate(self._snapshot.tables):
            digest = MemberDigest()
            self._report(100 * done_estimate / self._total_estimate, table, index)
            yield table.member_name, self._chunks(table, digest, done_estimate, index)
            done_estimate += self._snapshot.estimates[table.oid]
            self._contents[table.key] = self._entry(table, digest)
        self.manifest = self._build_manifest()
        self._tracker.report("running", 99, "Writing manifest", len(self._snapshot.tables))
        yield MANIFEST_NAME, iter([self.manifest.to_json_bytes()])

    def _report(self, percent: float, table: Table, index: int) -> None:
        self._tracker.report("running", percent, f"Exporting {table.key}", index)

    def _chunks(self, table: Table, digest: MemberDigest, done_estimate: int, index: int) -> Iterator[bytes]:
        """The table's parts read back in order; their row counts must add up to the lines written."""
        rows = 0
        estimate = self._snapshot.estimates[table.oid]
        for _ in self._snapshot.parts[table.oid]:
            part, spool = next(self._parts)
            assert part.table is table
            for chunk in spool.chunks(CHUNK_BYTES):
                digest.update(chunk)
                within = min(digest.bytes, estimate * 0.99)
                self._report(100 * (done_estimate + within) / self._total_estimate, table, index)
                yield chunk
            rows += spool.rows
        if rows != digest.lines:
            raise BackupdError(f"{table.key}: {rows} rows exported but {digest.lines} lines written")

    def _entry(self, table: Table, digest: MemberDigest) -> ManifestTable:
        return ManifestTable(
            count=digest.lines,
            checksum=digest.checksum,
            bytes=digest.bytes,
            columns=[ManifestColumn.model_validate(c.manifest_entry()) for c in table.columns],
            primary_key=list(table.primary_key),
            sequences=self._snapshot.sequences[table.oid] or None,
            definition=self._snapshot.definitions.get(table.key),
        )

    def _build_manifest(self) -> Manifest:
        snapshot = self._snapshot
        return Manifest(
            backup_id=self._backup_id,
            version=ARCHIVE_FORMAT_VERSION,
            created_at=self._created_at,
            app_version=__version__,
            contents=self._contents,
            table_order=[t.key for t in snapshot.tables],
            server_version=snapshot.server_version,
            settings=dict(OUTPUT_SETTINGS),
            types=snapshot.types or None,
            warnings=snapshot.warnings or None,
        )


def _cancel_workers(pool: OrderedParts[Part, psycopg.Connection], workers: list[psycopg.Connection]) -> None:
    """Stop the workers' COPYs after a failure (the spools stop taking data, the server stops sending)."""
    pool.cancelled.set()
    for worker in workers:
        with suppress(psycopg.Error, AttributeError):
            worker.cancel_safe()


def create_backup(
    database_url: str,
    output: Path | ArchiveTarget,
    *,
    tables: Sequence[str] = DEFAULT_TABLES,
    backup_id: str | None = None,
    created_at: datetime | None = None,
    progress: ProgressCallback | None = None,
    level: int = DEFAULT_COMPRESSION_LEVEL,
    workers: int = DEFAULT_WORKERS,
    spool_dir: Path | None = None,
) -> BackupResult:
    """Write an archive of `tables` to `output` (a file, or a store object) from one consistent snapshot.

    `workers` connections read parts of the tables in parallel from the same exported snapshot
    (PostgreSQL's row_to_json is the slowest step, and it runs on the server's cores). Parts wait
    in unlinked files in `spool_dir` (default: beside a file output, else in memory, which is
    what an encrypted backup needs: no plain byte on disk), at most SPOOL_LIMIT bytes each.
    """
    started = time.monotonic()
    backup_id = backup_id or uuid7()
    created_at = created_at or datetime.now(UTC)
    if isinstance(output, Path):
        output.parent.mkdir(parents=True, exist_ok=True)
        spool_dir = spool_dir or output.parent
    if spool_dir is not None:
        spool_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        conn = stack.enter_context(connect(database_url, application_name="backupd-backup"))
        snapshot = _take_snapshot(conn, tables)
        all_parts = snapshot.all_parts
        worker_count = max(1, min(workers, len(all_parts)))
        worker_conns = [stack.enter_context(_open_worker(database_url, snapshot.id)) for _ in range(worker_count)]
        pool: OrderedParts[Part, psycopg.Connection] = OrderedParts(
            all_parts, worker_conns, _produce_part, spool_dir=spool_dir, spool_limit=SPOOL_LIMIT
        )
        tracker = MonotonicProgress(progress, len(snapshot.tables))
        members = _Members(snapshot, pool.parts(), tracker, backup_id=backup_id, created_at=created_at)
        pool.start()
        try:
            size = write_archive(output, members, modified_at=created_at, level=level)
        except BaseException:
            _cancel_workers(pool, worker_conns)
            raise
        finally:
            pool.stop()
        conn.execute("COMMIT")
    tracker.finish("completed", "Backup complete")
    assert members.manifest is not None  # write_archive consumed every member, the manifest last
    return BackupResult(path=output, size_bytes=size, manifest=members.manifest, seconds=time.monotonic() - started)
