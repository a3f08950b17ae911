"""The backup engine: one consistent snapshot of a table set, streamed into an archive.

Data path: the set is locked and its snapshot exported by one transaction; worker connections
import that snapshot and run COPY (SELECT row_to_json …) TO STDOUT over primary-key ranges
("parts") in parallel; parts are read back in order → SHA-256 and line count → stream-zip
(deflate) → a temporary file, fsynced and renamed. Memory is bounded by chunk sizes, not tables.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .. import ARCHIVE_FORMAT_VERSION, DEFAULT_TABLES, __version__
from ..archive.manifest import (
    MANIFEST_NAME,
    MEMBER_SUFFIX,
    Manifest,
    ManifestColumn,
    ManifestOrigin,
    ManifestPart,
    ManifestReuse,
    ManifestTable,
    part_names,
    parts_checksum,
)
from ..archive.reader import ArchiveSource
from ..archive.writer import (
    DEFAULT_COMPRESSION_LEVEL,
    ArchiveTarget,
    MemberData,
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
from .query import CHUNK_BYTES, export_query
from .reuse import (
    Horizon,
    Previous,
    horizon_for,
    integer_key,
    open_previous,
    prove,
    read_origin,
    relfilenodes,
    reusable_entry,
)

PART_BYTES = 16 * 1024 * 1024  # split big tables into primary-key ranges of about this much JSON
# Unread bytes one part may keep on local disk: with workers + 1 parts alive and 2 MiB segments,
# a backup needs at most ~3 x (12 + 1 + 2) MiB of local disk whatever the archive's size
# (docs/operations.md: under 64 MiB).
SPOOL_LIMIT = 12 * 1024 * 1024
MAX_PARTS = 4096
DEFAULT_WORKERS = 2
LOCK_TIMEOUT = "30s"  # a restore's swap holds its locks briefly; wait for it, but not forever


@dataclass(frozen=True)
class BackupResult:
    path: Path | ArchiveTarget  # the output as given; str() of a store object is its location
    size_bytes: int
    manifest: Manifest
    seconds: float


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
    name: str = ""  # its member: `<table>.jsonl` when the table has one part, else `<table>.000001.jsonl`, …
    reuse: ManifestPart | None = None  # the previous backup's part this one copies (proved unchanged)

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


def subdivide(
    table: Table, lower: int | None, upper: int | None, rows: int, low: int | None, high: int | None, row_bytes: float
) -> list[Part]:
    """A key range to read again, cut into pieces of about PART_BYTES between its lowest and highest
    key (so a range that grew, the last one most often, does not grow without bound)."""
    pieces = min(MAX_PARTS, max(1, -(-int(rows * row_bytes) // PART_BYTES)))
    if pieces <= 1 or low is None or high is None or high <= low or not integer_key(table):
        return [Part(table, lower, upper)]
    step = -(-(high - low + 1) // pieces)
    bounds = [low + i * step for i in range(1, pieces) if low + i * step <= high]
    return [Part(table, lo, up) for lo, up in zip([lower, *bounds], [*bounds, upper], strict=True)]


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
    origin: ManifestOrigin
    relfilenodes: dict[int, int | None]
    reuse_note: str | None = None  # why nothing of the previous backup could be reused

    @property
    def all_parts(self) -> list[Part]:
        return [p for t in self.tables for p in self.parts[t.oid]]

    @property
    def read_parts(self) -> list[Part]:
        """The parts the workers read (the others are copied from the previous backup)."""
        return [p for p in self.all_parts if p.reuse is None]


def _columns(table: Table) -> list[ManifestColumn]:
    return [ManifestColumn.model_validate(c.manifest_entry()) for c in table.columns]


def _plan_parts(
    conn: psycopg.Connection,
    table: Table,
    estimate: int,
    before: ManifestTable | None,
    horizon: Horizon | None,
) -> list[Part]:
    """The table's parts: the previous backup's key ranges where it has usable ones (each proved
    unchanged is reused, each other one read again, cut smaller when it grew), else new ranges."""
    if before is None or horizon is None:
        return split_into_parts(conn, table, estimate)
    row_bytes = (before.bytes or 0) / before.count if before.count else 256.0
    parts: list[Part] = []
    for proof in prove(conn, table, before, horizon):
        if proof.proved:
            parts.append(Part(table, proof.lower, proof.upper, reuse=proof.part))
        else:
            parts += subdivide(table, proof.lower, proof.upper, proof.count, proof.min_key, proof.max_key, row_bytes)
    return parts


def _named(tables: list[Table], parts: dict[int, list[Part]]) -> dict[int, list[Part]]:
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


def _take_snapshot(conn: psycopg.Connection, tables: Sequence[str], previous: Previous | None) -> _Snapshot:
    """Lock the set, fix and export the snapshot, and read the catalog under it (the first query
    after the LOCK is describe_tables: it takes the snapshot). With a previous backup, prove which
    of its parts are unchanged (backup.reuse) and plan the rest."""
    names = [resolve_table(conn, name) for name in tables]  # autocommit: takes no snapshot
    begin_snapshot(conn, sql.SQL(", ").join(sql.Identifier(schema, rel) for _, schema, rel in names))
    described = describe_tables(conn, list(tables))  # first query: fixes the snapshot
    snapshot_id = _row(conn.execute("SELECT pg_export_snapshot()"))[0]
    types, definitions = capture_definitions(conn, described)
    warnings = outside_parents(conn, described)
    server_version = _row(conn.execute("SHOW server_version"))[0]
    estimates = _estimated_bytes(conn, described)
    sequences = {t.oid: _sequence_values(conn, t) for t in described}
    origin, xmax = read_origin(conn)
    nodes = relfilenodes(conn, described)
    horizon, note = None, None
    if previous is not None:
        horizon, note = horizon_for(
            previous.manifest,
            origin,
            xmax,
            server_version=server_version,
            settings=dict(OUTPUT_SETTINGS),
            types=types,
        )
    parts = {}
    for t in described:
        before = None
        if previous is not None and horizon is not None:
            before = reusable_entry(
                previous.manifest.contents.get(t.key), t, definitions.get(t.key), _columns(t), nodes.get(t.oid)
            )
        parts[t.oid] = _plan_parts(conn, t, estimates[t.oid], before, horizon)
    return _Snapshot(
        snapshot_id,
        described,
        types,
        definitions,
        warnings,
        server_version,
        estimates,
        sequences,
        _named(described, parts),
        origin,
        nodes,
        note,
    )


class _Members:
    """The archive's members in order, for write_archive: one per part, each read part streamed
    from its spool as the workers fill it (hashed, line-counted, with progress), each reused part
    copied as deflate data from the previous archive; then the manifest, built from those digests
    once every part was consumed. `.manifest` is set when it is yielded."""

    def __init__(
        self,
        snapshot: _Snapshot,
        parts: Iterator[tuple[Part, PartSpool]],
        tracker: MonotonicProgress,
        *,
        backup_id: str,
        created_at: datetime,
        previous: Previous | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._parts = parts  # (part, spool) of the read parts, in the snapshot's table order
        self._tracker = tracker
        self._backup_id = backup_id
        self._created_at = created_at
        self._previous = previous
        self._total_estimate = sum(snapshot.estimates.values()) or 1
        self._contents: dict[str, ManifestTable] = {}
        self._reuse = ManifestReuse()
        self.manifest: Manifest | None = None

    def __iter__(self) -> Iterator[tuple[str, MemberData]]:
        done_estimate = 0
        for index, table in enumerate(self._snapshot.tables):
            rows = MemberDigest(count_lines=False)  # the table's rows as one stream
            entries: list[ManifestPart] = []
            size = 0
            planned = self._snapshot.parts[table.oid]
            estimate = self._snapshot.estimates[table.oid]
            for number, part in enumerate(planned):
                within = estimate * number / len(planned)
                self._report(100 * (done_estimate + within) / self._total_estimate, table, index)
                if part.reuse is not None:
                    assert self._previous is not None
                    raw = self._previous.reader.raw_member(part.reuse.name)
                    yield part.name, raw
                    entries.append(part.reuse.model_copy(update={"name": part.name, "reused": True}))
                    size += raw.uncompressed_size
                    self._reuse.parts_reused += 1
                    self._reuse.rows_reused += part.reuse.count
                    continue
                digest = MemberDigest()
                edges = _Edges()
                yield part.name, self._chunks(part, digest, rows, edges)
                entries.append(
                    ManifestPart(
                        name=part.name,
                        first=edges.key(table, first=True),
                        last=edges.key(table, first=False),
                        count=digest.lines,
                        checksum=digest.checksum,
                        reused=False,
                    )
                )
                size += digest.bytes
                self._reuse.parts_read += 1
                self._reuse.rows_read += digest.lines
            done_estimate += estimate
            self._contents[table.key] = self._entry(table, entries, rows, size)
        self.manifest = self._build_manifest()
        self._tracker.report("running", 99, "Writing manifest", len(self._snapshot.tables))
        yield MANIFEST_NAME, iter([self.manifest.to_json_bytes()])

    def _report(self, percent: float, table: Table, index: int) -> None:
        self._tracker.report("running", percent, f"Exporting {table.key}", index)

    def _chunks(self, part: Part, digest: MemberDigest, rows: MemberDigest, edges: _Edges) -> Iterator[bytes]:
        """A read part's bytes from its spool; its row count must equal the lines written."""
        spooled, spool = next(self._parts)
        assert spooled is part
        for chunk in spool.chunks(CHUNK_BYTES):
            digest.update(chunk)
            rows.update(chunk)
            edges.see(chunk)
            yield chunk
        if spool.rows != digest.lines:
            raise BackupdError(f"{part.table.key}: {spool.rows} rows exported but {digest.lines} lines written")

    def _entry(self, table: Table, parts: list[ManifestPart], rows: MemberDigest, size: int) -> ManifestTable:
        reused = any(p.reused for p in parts)
        return ManifestTable(
            count=sum(p.count for p in parts),
            checksum=parts_checksum([p.checksum for p in parts]) if reused else rows.checksum,
            bytes=size,
            columns=_columns(table),
            primary_key=list(table.primary_key),
            sequences=self._snapshot.sequences[table.oid] or None,
            definition=self._snapshot.definitions.get(table.key),
            parts=parts,
            checksum_of="parts" if reused else "rows",
            part_bounds=[p.lower for p in self._snapshot.parts[table.oid][1:] if p.lower is not None] or None,
            oid=table.oid,
            relfilenode=self._snapshot.relfilenodes.get(table.oid),
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
            origin=snapshot.origin,
            reuse=self._reuse,
            reused_from=self._previous.manifest.backup_id if self._reuse.parts_reused and self._previous else None,
            reuse_note=snapshot.reuse_note,
        )


class _Edges:
    """The first and last line of a part's bytes as they stream past (for its first and last key)."""

    __slots__ = ("first", "head", "last")

    def __init__(self) -> None:
        self.head = bytearray()  # bytes up to the first newline
        self.first: bytes | None = None
        self.last = bytearray()  # bytes after the last newline but one

    def see(self, chunk: bytes) -> None:
        if self.first is None:
            end = chunk.find(b"\n")
            if end < 0:
                self.head += chunk
            else:
                self.first = bytes(self.head) + chunk[:end]
        cut = chunk.rfind(b"\n", 0, len(chunk) - 1)
        if cut < 0:
            if self.last.endswith(b"\n"):
                self.last.clear()
            self.last += chunk
        else:
            self.last[:] = chunk[cut + 1 :]

    def key(self, table: Table, *, first: bool) -> list[Any] | None:
        """The primary key of the first or last row, as a JSON array of its columns' values."""
        line = self.first if first else bytes(self.last).rstrip(b"\n")
        if not line or not table.primary_key:
            return None
        row = json.loads(line)
        return [row[column] for column in table.primary_key]


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
    previous: Path | ArchiveSource | None = None,
    full: bool = False,
) -> BackupResult:
    """Write an archive of `tables` to `output` (a file, or a store object) from one consistent snapshot.

    `workers` connections read parts of the tables in parallel from the same exported snapshot
    (PostgreSQL's row_to_json is the slowest step, and it runs on the server's cores). Parts wait
    in unlinked files in `spool_dir` (default: beside a file output, else in memory, which is
    what an encrypted backup needs: no plain byte on disk), at most SPOOL_LIMIT bytes each.

    `previous` (the previous completed backup of the set, normally found by backup.reuse.find_previous)
    lets the parts this snapshot proves unchanged be copied from it instead of read
    (docs/change-proportional-backups.md); `full` reads every row whatever `previous` is.
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
        before, note = (None, None) if previous is None or full else open_previous(previous)
        if before is not None:
            stack.callback(before.close)
        conn = stack.enter_context(connect(database_url, application_name="backupd-backup"))
        snapshot = _take_snapshot(conn, tables, before)
        if note is not None:
            snapshot = replace(snapshot, reuse_note=note)
        all_parts = snapshot.read_parts
        worker_count = min(max(1, workers), len(all_parts))
        worker_conns = [stack.enter_context(_open_worker(database_url, snapshot.id)) for _ in range(worker_count)]
        pool: OrderedParts[Part, psycopg.Connection] = OrderedParts(
            all_parts, worker_conns, _produce_part, spool_dir=spool_dir, spool_limit=SPOOL_LIMIT
        )
        tracker = MonotonicProgress(progress, len(snapshot.tables))
        members = _Members(snapshot, pool.parts(), tracker, backup_id=backup_id, created_at=created_at, previous=before)
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
