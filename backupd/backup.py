"""The backup engine: one consistent snapshot of a table set, streamed into an archive.

Data path: COPY (SELECT row_to_json …) TO STDOUT on one connection (a reader thread) →
1 MiB chunks through a bounded queue → SHA-256 and line count → stream-zip (deflate) → a
temporary file, fsynced and renamed. The reader thread and the compressor overlap, so the
database and zlib work at the same time; memory is bounded by the queue, not the table.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from . import ARCHIVE_FORMAT_VERSION, DEFAULT_TABLES, __version__
from .archive import (
    DEFAULT_COMPRESSION_LEVEL,
    MANIFEST_NAME,
    Manifest,
    ManifestColumn,
    ManifestTable,
    MemberDigest,
    write_archive,
)
from .catalog import Table, describe_tables, qualified_names, resolve_table
from .database import OUTPUT_SETTINGS, connect
from .errors import BackupdError
from .ids import uuid7
from .progress import MonotonicProgress, ProgressCallback

CHUNK_BYTES = 1024 * 1024
QUEUE_CHUNKS = 8  # at most ~8 MiB in flight between the reader thread and the compressor
LOCK_TIMEOUT = "30s"  # a restore's swap holds its locks briefly; wait for it, but not forever

# CSV with quote and delimiter bytes that row_to_json never emits (it escapes every control
# character), so each row arrives verbatim as one JSON line without COPY text-format escaping.
COPY_OPTIONS = sql.SQL("WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')")


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    manifest: Manifest
    seconds: float


def export_query(table: Table, where: sql.Composable | None = None,
                 order_by: Sequence[str] | None = None) -> sql.Composed:
    """COPY … TO STDOUT producing one JSON object per row, in primary-key order.

    json/jsonb columns are cast to text so they travel as exact strings (see Column.carried_as_text).
    """
    items = []
    for col in table.columns:
        ident = sql.Identifier(col.name)
        items.append(sql.SQL("t.{}::text AS {}").format(ident, ident) if col.carried_as_text
                     else sql.SQL("t.{}").format(ident))
    inner = sql.SQL("SELECT {} FROM ONLY {} AS t").format(sql.SQL(", ").join(items), table.ident)
    if where is not None:
        inner += sql.SQL(" WHERE ") + where
    keys = list(order_by) if order_by is not None else list(table.primary_key)
    if keys:
        order = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(k)) for k in keys)
    else:  # no primary key: order by the whole row so identical data still gives identical bytes
        order = sql.SQL("row_to_json(r)::text COLLATE \"C\"")
    select = sql.SQL("SELECT row_to_json(r) FROM ({}) AS r ORDER BY {}").format(inner, order)
    return sql.SQL("COPY ({}) TO STDOUT {}").format(select, COPY_OPTIONS)


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


class _ChunkReader(threading.Thread):
    """Runs the COPYs one table after another and hands 1 MiB chunks to the compressor."""

    def __init__(self, conn: psycopg.Connection, tables: list[Table]) -> None:
        super().__init__(name="backupd-copy-reader", daemon=True)
        self.conn = conn
        self.tables = tables
        self.queue: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.cancelled = threading.Event()

    def _put(self, item: tuple[str, object]) -> None:
        while not self.cancelled.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Cancelled

    def run(self) -> None:
        try:
            with self.conn.cursor() as cur:
                for table in self.tables:
                    buf = bytearray()
                    with cur.copy(export_query(table)) as copy:
                        for data in copy:
                            buf += data
                            if len(buf) >= CHUNK_BYTES:
                                self._put(("data", bytes(buf)))
                                buf.clear()
                    if buf:
                        self._put(("data", bytes(buf)))
                    self._put(("end", cur.rowcount))
        except _Cancelled:
            return
        except BaseException as exc:  # handed to the consuming thread, which raises it
            try:
                self._put(("error", exc))
            except _Cancelled:
                pass

    def next_item(self) -> tuple[str, object]:
        kind, value = self.queue.get()
        if kind == "error":
            raise value  # type: ignore[misc]
        return kind, value


class _Cancelled(Exception):
    pass


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
        row = conn.execute(
            sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(link.sequence))
        ).fetchone()
        values[link.column] = row[0] if row[1] else None
    return values


def create_backup(
    database_url: str,
    output_path: Path,
    *,
    tables: Sequence[str] = DEFAULT_TABLES,
    backup_id: str | None = None,
    progress: ProgressCallback | None = None,
    level: int = DEFAULT_COMPRESSION_LEVEL,
) -> BackupResult:
    """Write an archive of `tables` to `output_path` from one consistent snapshot."""
    started = time.monotonic()
    backup_id = backup_id or uuid7()
    created_at = datetime.now(UTC)
    with connect(database_url, application_name="backupd-backup") as conn:
        names = [resolve_table(conn, name) for name in tables]  # autocommit: takes no snapshot
        lock_list = sql.SQL(", ").join(sql.Identifier(schema, rel) for _, schema, rel in names)
        begin_snapshot(conn, lock_list)
        described = describe_tables(conn, list(tables))  # first query: fixes the snapshot
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        estimates = _estimated_bytes(conn, described)
        sequences = {t.oid: _sequence_values(conn, t) for t in described}
        tracker = MonotonicProgress(progress, len(described))
        total_estimate = sum(estimates.values()) or 1
        contents: dict[str, ManifestTable] = {}
        reader = _ChunkReader(conn, described)

        def members() -> Iterator[tuple[str, Iterator[bytes]]]:
            done_estimate = 0
            for index, table in enumerate(described):
                digest = MemberDigest()
                tracker.report("running", 100 * done_estimate / total_estimate,
                               f"Exporting {table.key}", index)

                def chunks(table: Table = table, digest: MemberDigest = digest) -> Iterator[bytes]:
                    while True:
                        kind, value = reader.next_item()
                        if kind == "end":
                            rowcount = int(value)  # type: ignore[arg-type]
                            if rowcount != digest.lines:
                                raise BackupdError(
                                    f"{table.key}: {rowcount} rows exported but {digest.lines} lines written"
                                )
                            return
                        chunk = value  # type: ignore[assignment]
                        digest.update(chunk)
                        within = min(digest.bytes, estimates[table.oid] * 0.99)
                        tracker.report("running", 100 * (done_estimate + within) / total_estimate,
                                       f"Exporting {table.key}", index)
                        yield chunk

                yield table.member_name, chunks()
                done_estimate += estimates[table.oid]
                contents[table.key] = ManifestTable(
                    count=digest.lines,
                    checksum=digest.checksum,
                    bytes=digest.bytes,
                    columns=[ManifestColumn(**c.manifest_entry()) for c in table.columns],
                    primary_key=list(table.primary_key),
                    sequences=sequences[table.oid] or None,
                )
            reader.join()
            conn.execute("COMMIT")
            manifest = Manifest(
                backup_id=backup_id,
                version=ARCHIVE_FORMAT_VERSION,
                created_at=created_at,
                app_version=__version__,
                contents=contents,
                table_order=[t.key for t in described],
                server_version=server_version,
                settings=dict(OUTPUT_SETTINGS),
            )
            holder.append(manifest)
            tracker.report("running", 99, "Writing manifest", len(described))
            yield MANIFEST_NAME, iter([manifest.to_json_bytes()])

        holder: list[Manifest] = []
        reader.start()
        try:
            size = write_archive(output_path, members(), modified_at=created_at, level=level)
        except BaseException:
            reader.cancelled.set()
            try:
                conn.cancel_safe()
            except (psycopg.Error, AttributeError):
                pass
            reader.join(timeout=10)
            raise
        reader.join()
    tracker.finish("completed", "Backup complete")
    return BackupResult(path=output_path, size_bytes=size, manifest=holder[0],
                        seconds=time.monotonic() - started)


def default_archive_name(backup_id: str, when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    return f"backupd-{when:%Y%m%dT%H%M%SZ}-{backup_id[:8]}.zip"
