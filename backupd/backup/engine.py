"""The backup engine: one consistent snapshot of a table set, streamed into an archive.

Data path: the set is locked and its snapshot exported by one transaction; worker connections
import that snapshot and run COPY (SELECT row_to_json …) TO STDOUT over primary-key ranges
("parts") in parallel; parts are read back in order → SHA-256 and line count → stream-zip
(deflate) → a temporary file, fsynced and renamed. Memory is bounded by chunk sizes, not tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .. import DEFAULT_TABLES
from ..archive.manifest import (
    Manifest,
    ManifestOrigin,
    ManifestTable,
)
from ..archive.reader import ArchiveSource
from ..archive.writer import (
    DEFAULT_COMPRESSION_LEVEL,
    ArchiveTarget,
    write_archive,
)
from ..db.catalog import Table, describe_tables, resolve_table
from ..db.connection import OUTPUT_SETTINGS, connect
from ..db.definitions import TableDefinition, TypeDefinition, capture_definitions
from ..errors import BackupdError
from ..ids import uuid7
from ..progress import MonotonicProgress, ProgressCallback
from .members import ArchiveMembers, manifest_columns
from .parts import (
    Part,
    cancel_workers,
    estimated_bytes,
    name_parts,
    open_worker,
    plan_parts,
    produce_part,
    set_backup_transaction,
)
from .pipeline import OrderedParts
from .reuse import (
    Previous,
    horizon_for,
    open_previous,
    prove_tables,
    read_origin,
    relfilenodes,
    reusable_entry,
)

# Unread bytes one part may keep on local disk: with workers + 1 parts alive and 2 MiB segments,
# a backup needs at most ~3 x (12 + 1 + 2) MiB of local disk whatever the archive's size
# (docs/operations.md: under 64 MiB).
SPOOL_LIMIT = 12 * 1024 * 1024
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
    set_backup_transaction(conn)
    try:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(tables_sql))
    except psycopg.errors.LockNotAvailable as exc:
        raise BackupdError(f"the tables are locked by another session (waited {LOCK_TIMEOUT})") from exc


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


def _sequence_values(conn: psycopg.Connection, table: Table) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for link in table.sequences:
        row = _row(conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(link.sequence))))
        values[link.column] = row[0] if row[1] else None
    return values


@dataclass(frozen=True)
class Snapshot:
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


def _take_snapshot(
    conn: psycopg.Connection,
    tables: Sequence[str],
    previous: Previous | None,
    open_workers: Callable[[str], list[psycopg.Connection]],
) -> tuple[Snapshot, list[psycopg.Connection]]:
    """Lock the set, fix and export the snapshot, and read the catalog under it (the first query
    after the LOCK is describe_tables: it takes the snapshot); then open the workers on it
    (`open_workers(snapshot id)`). With a previous backup, prove which of its parts are unchanged
    (backup.reuse, on every connection at once) and plan the rest."""
    names = [resolve_table(conn, name) for name in tables]  # autocommit: takes no snapshot
    begin_snapshot(conn, sql.SQL(", ").join(sql.Identifier(schema, rel) for _, schema, rel in names))
    described = describe_tables(conn, list(tables))  # first query: fixes the snapshot
    snapshot_id = _row(conn.execute("SELECT pg_export_snapshot()"))[0]
    workers = open_workers(snapshot_id)
    types, definitions = capture_definitions(conn, described)
    warnings = outside_parents(conn, described)
    server_version = _row(conn.execute("SHOW server_version"))[0]
    estimates = estimated_bytes(conn, described)
    sequences = {t.oid: _sequence_values(conn, t) for t in described}
    origin, xmax = read_origin(conn)
    nodes = relfilenodes(conn, described)
    horizon, note = None, None
    befores: dict[int, ManifestTable] = {}
    if previous is not None:
        horizon, note = horizon_for(
            previous.manifest,
            origin,
            xmax,
            server_version=server_version,
            settings=dict(OUTPUT_SETTINGS),
            types=types,
        )
    if previous is not None and horizon is not None:
        for t in described:
            entry = previous.manifest.contents.get(t.key)
            before = reusable_entry(entry, t, definitions.get(t.key), manifest_columns(t), nodes.get(t.oid))
            if before is not None:
                befores[t.oid] = before
    entries = [(t, befores[t.oid]) for t in described if t.oid in befores]
    proofs = prove_tables([conn, *workers], entries, horizon) if horizon is not None else {}
    parts = {t.oid: plan_parts(conn, t, estimates[t.oid], befores.get(t.oid), proofs.get(t.oid)) for t in described}
    snapshot = Snapshot(
        snapshot_id,
        described,
        types,
        definitions,
        warnings,
        server_version,
        estimates,
        sequences,
        name_parts(described, parts),
        origin,
        nodes,
        note,
    )
    return snapshot, workers


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

        def open_workers(snapshot_id: str) -> list[psycopg.Connection]:
            return [stack.enter_context(open_worker(database_url, snapshot_id)) for _ in range(max(1, workers))]

        snapshot, opened = _take_snapshot(conn, tables, before, open_workers)
        if note is not None:
            snapshot = replace(snapshot, reuse_note=note)
        all_parts = snapshot.read_parts
        worker_conns = opened[: len(all_parts)]
        pool: OrderedParts[Part, psycopg.Connection] = OrderedParts(
            all_parts, worker_conns, produce_part, spool_dir=spool_dir, spool_limit=SPOOL_LIMIT
        )
        tracker = MonotonicProgress(progress, len(snapshot.tables))
        members = ArchiveMembers(
            snapshot, pool.parts(), tracker, backup_id=backup_id, created_at=created_at, previous=before
        )
        pool.start()
        try:
            size = write_archive(output, members, modified_at=created_at, level=level)
        except BaseException:
            cancel_workers(pool, worker_conns)
            raise
        finally:
            pool.stop()
        conn.execute("COMMIT")
    tracker.finish("completed", "Backup complete")
    assert members.manifest is not None  # write_archive consumed every member, the manifest last
    return BackupResult(path=output, size_bytes=size, manifest=members.manifest, seconds=time.monotonic() - started)
