"""Change-proportional backups: which parts of the previous backup this snapshot proves unchanged.

The proof (docs/change-proportional-backups.md): a part of the previous backup may be copied into
this one only when, inside this backup's snapshot, its key range holds as many rows as that part
and no row version in the range was created by a transaction whose xid is at or above the previous
snapshot's xmin. Every such row version was committed before the previous snapshot was taken and
not deleted by anything committed before it, so the previous backup saw it; the same count then
means it saw exactly these rows, and the same table definition, output settings, server and
backupd version mean it printed exactly these bytes. Anything that cannot be shown is read again.

A module of its own because it is the part of the backup whose mistakes would be silent: every
check is here, in one place, in the order the document gives them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from .. import ARCHIVE_FORMAT_VERSION, __version__
from ..archive.manifest import Manifest, ManifestColumn, ManifestOrigin, ManifestPart, ManifestTable
from ..archive.reader import ArchiveReader, ArchiveSource
from ..db.catalog import Table
from ..db.definitions import TableDefinition, TypeDefinition
from ..errors import BackupdError, one_line
from .keys import split_key

if TYPE_CHECKING:
    from pathlib import Path

    from ..jobs.records import JobRecords
    from ..store import Store, StoredArchive

log = logging.getLogger("backupd.backup")

XID_SPACE = 1 << 32
# The previous snapshot must be less than 2^31 transactions old: then every xid created since it
# is within 2^31 of this snapshot, which is what lets a 32-bit tuple xmin be placed exactly (below).
MAX_XID_DISTANCE = 1 << 31


@dataclass(frozen=True)
class Horizon:
    """The previous snapshot's xmin, seen from this snapshot: `distance` = this snapshot's xmax -
    that xmin, both 64-bit (epoch included), and `xmax32` = this snapshot's xmax modulo 2^32."""

    distance: int
    xmax32: int

    def created_since(self) -> sql.Composable:
        """SQL true for a row version `t` whose creating xid is ≥ the previous snapshot's xmin.

        A tuple's xmin is 32 bits. Placed in the 2^32 xids just below this snapshot's xmax (the
        only place an xid created since the previous snapshot can be, given MAX_XID_DISTANCE), it is
        ≥ the previous xmin exactly when (xmax32 - xmin) mod 2^32 ≤ distance. An xid older than that
        window (a frozen tuple's raw xmin, FrozenTransactionId) may land either side: on this side
        it is only read again; it can never make a newer row look old.
        """
        return sql.SQL("mod(mod({} - t.xmin::text::bigint, {}) + {}, {}) <= {}").format(
            sql.Literal(self.xmax32),
            sql.Literal(XID_SPACE),
            sql.Literal(XID_SPACE),
            sql.Literal(XID_SPACE),
            sql.Literal(self.distance),
        )


@dataclass
class Previous:
    """The previous completed backup, opened: its manifest and members (read with ranged reads)."""

    reader: ArchiveReader
    source: str

    @property
    def manifest(self) -> Manifest:
        return self.reader.manifest

    def close(self) -> None:
        self.reader.close()


def open_previous(source: Path | ArchiveSource) -> tuple[Previous | None, str | None]:
    """The previous archive, or None and why it cannot be used (every row is then read).

    An encrypted archive that no identity in BACKUPD_AGE_IDENTITY opens is one such case: the
    backup reads everything and says so in the manifest's `reuse_note`.
    """
    try:
        reader = ArchiveReader(source)
    except BackupdError as exc:
        return None, f"the previous backup {source} could not be read ({one_line(exc)}): every row was read"
    except (OSError, ValueError) as exc:
        return None, f"the previous backup {source} could not be opened ({exc}): every row was read"
    return Previous(reader, str(source)), None


def find_previous(jobs: JobRecords, archives: Store) -> StoredArchive | None:
    """The newest completed backup (job row) whose archive is still in the store."""
    present = {o.name for o in archives.archives()}
    for row in jobs.list_completed_backups():
        name = archives.name_of(row.get("file_path") or "")
        if name is not None and name in present:
            return archives.archive(name)
    return None


def read_origin(conn: psycopg.Connection) -> tuple[ManifestOrigin, int]:
    """This snapshot's origin for the manifest, and its xmax as a 64-bit xid.

    Runs inside the exporting transaction after its snapshot is taken. pg_control_* need a role
    that may execute them (superuser or pg_monitor by default): without one the identifiers stay
    null and no later backup can reuse this one's parts.
    """
    snapshot, xmin, xmax, database_oid, can_system, can_checkpoint = _one(
        conn.execute(
            "SELECT pg_current_snapshot()::text, pg_snapshot_xmin(pg_current_snapshot())::text::bigint,"
            " pg_snapshot_xmax(pg_current_snapshot())::text::bigint,"
            " (SELECT oid::bigint FROM pg_database WHERE datname = current_database()),"
            " has_function_privilege('pg_control_system()', 'EXECUTE'),"
            " has_function_privilege('pg_control_checkpoint()', 'EXECUTE')"
        )
    )
    system_identifier = None
    timeline = None
    if can_system:
        system_identifier = str(_one(conn.execute("SELECT system_identifier FROM pg_control_system()"))[0])
    if can_checkpoint:
        timeline = int(_one(conn.execute("SELECT timeline_id FROM pg_control_checkpoint()"))[0])
    origin = ManifestOrigin(
        system_identifier=system_identifier,
        timeline=timeline,
        database_oid=int(database_oid),
        snapshot=snapshot,
        snapshot_xmin=int(xmin),
    )
    return origin, int(xmax)


def relfilenodes(conn: psycopg.Connection, tables: Sequence[Table]) -> dict[int, int | None]:
    """Each table's relfilenode (VACUUM FULL, CLUSTER, TRUNCATE and rewriting ALTERs change it)."""
    rows = conn.execute(
        "SELECT oid::bigint, pg_relation_filenode(oid)::bigint FROM pg_class WHERE oid = ANY(%s)",
        [[t.oid for t in tables]],
    ).fetchall()
    found: dict[int, int | None] = {int(oid): (None if node is None else int(node)) for oid, node in rows}
    return found


def horizon_for(
    previous: Manifest,
    origin: ManifestOrigin,
    xmax: int,
    *,
    server_version: str,
    settings: dict[str, str],
    types: list[TypeDefinition],
) -> tuple[Horizon | None, str | None]:
    """The horizon when the previous backup is of the same database and printed rows the same way;
    else None and the reason (no part of it is then reused)."""
    before = previous.origin
    if before is None:
        return None, "the previous backup records no snapshot (written before change-proportional backups)"
    if origin.system_identifier is None or origin.timeline is None:
        return None, "the backup's role may not read pg_control_system()/pg_control_checkpoint()"
    if (before.system_identifier, before.timeline, before.database_oid) != (
        origin.system_identifier,
        origin.timeline,
        origin.database_oid,
    ):
        return None, "the previous backup is of another cluster, timeline or database"
    if (previous.version, previous.app_version, previous.server_version) != (
        ARCHIVE_FORMAT_VERSION,
        __version__,
        server_version,
    ):
        return None, "the previous backup was written by another backupd, format or server version"
    if (previous.settings or {}) != settings:
        return None, "the previous backup used other output settings"
    if _dump_types(previous.types or []) != _dump_types(types):
        return None, "a type the tables use changed since the previous backup"
    distance = xmax - before.snapshot_xmin
    if not 0 <= distance < MAX_XID_DISTANCE:
        return None, "the previous snapshot is too many transactions old to prove anything against"
    return Horizon(distance=distance, xmax32=xmax % XID_SPACE), None


def _dump_types(types: list[TypeDefinition]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json") for t in types]


def reusable_entry(
    before: ManifestTable | None,
    table: Table,
    definition: TableDefinition | None,
    columns: list[ManifestColumn],
    relfilenode: int | None,
) -> ManifestTable | None:
    """The previous backup's entry of `table` when its parts may be proved unchanged, else None:
    the same relation (oid), the same storage (relfilenode), definition, columns and key."""
    if before is None or before.parts is None or relfilenode is None or table.partitioned:
        return None
    if before.oid != table.oid or before.relfilenode != relfilenode:
        return None
    if before.primary_key != list(table.primary_key) or before.definition != definition:
        return None
    if [c.model_dump() for c in before.columns or []] != [c.model_dump() for c in columns]:
        return None
    bounds = previous_bounds(table, before)
    if bounds is None or len(bounds) != len(before.parts) - 1:
        return None
    if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
        return None
    return before


def previous_bounds(table: Table, before: ManifestTable) -> list[int] | None:
    """The previous backup's part bounds of `table` as numbers (backup.keys), [] for one part, or
    None when they are not bounds of this table's key."""
    if not before.part_bounds:
        return []
    key = split_key(table)
    return None if key is None else key.from_manifest(before.part_bounds)


@dataclass(frozen=True)
class RangeProof:
    """One previous part's key range in this snapshot: its rows and how many are unproved."""

    part: ManifestPart
    lower: int | None  # inclusive
    upper: int | None  # exclusive
    count: int
    created_since: int  # row versions created at or after the previous snapshot's xmin
    min_key: int | None
    max_key: int | None

    @property
    def proved(self) -> bool:
        return self.created_since == 0 and self.count == self.part.count


# One bucket's figures: rows, row versions created since the previous snapshot, lowest and highest key.
Figures = tuple[int, int, int | None, int | None]

# A table is proved in slices of its heap (TID ranges) on several connections at once when it has
# at least this many blocks per slice (64 MiB): the proof is a scan of the whole table, and a
# server has cores to spare while a backup waits for it.
MIN_SLICE_BLOCKS = 8192


@dataclass(frozen=True)
class _Slice:
    """One proof query: a table's rows in the heap blocks [first, stop) (None: from the start, to the end)."""

    table: Table
    before: ManifestTable
    horizon: Horizon
    first: int | None
    stop: int | None


def prove_tables(
    conns: Sequence[psycopg.Connection], entries: Sequence[tuple[Table, ManifestTable]], horizon: Horizon
) -> dict[int, list[RangeProof]]:
    """Each table's RangeProofs (table oid → one per previous part), its heap scanned in slices on
    `conns` in parallel. Every connection must hold the same snapshot (the exporting one and the
    workers that imported it), so the slices add up to one scan of the table in that snapshot."""
    if not entries:
        return {}
    blocks = table_blocks(conns[0], [t for t, _ in entries])
    slices = [
        piece
        for table, before in entries
        for piece in _slices(table, before, horizon, blocks.get(table.oid, 0), len(conns))
    ]
    stats = _run_slices(conns, slices)
    proofs = {}
    for table, before in entries:
        merged: dict[int, Figures] = {}
        for part in (stats[i] for i, s in enumerate(slices) if s.table.oid == table.oid):
            for bucket, figures in part.items():
                merged[bucket] = _merge(merged.get(bucket), figures)
        proofs[table.oid] = _range_proofs(table, before, merged)
    return proofs


def table_blocks(conn: psycopg.Connection, tables: Sequence[Table]) -> dict[int, int]:
    """Each table's heap size in blocks, now (only where its slices are cut: the last slice is open-ended)."""
    rows = conn.execute(
        "SELECT oid::bigint, pg_relation_size(oid) / current_setting('block_size')::bigint"
        " FROM pg_class WHERE oid = ANY(%s)",
        [[t.oid for t in tables]],
    ).fetchall()
    return {int(oid): int(size) for oid, size in rows}


def _slices(table: Table, before: ManifestTable, horizon: Horizon, blocks: int, connections: int) -> list[_Slice]:
    """The table's heap cut into up to `connections` block ranges, together the whole heap."""
    count = max(1, min(connections, blocks // MIN_SLICE_BLOCKS))
    bounds = [blocks * i // count for i in range(1, count)]
    return [
        _Slice(table, before, horizon, first, stop)
        for first, stop in zip([None, *bounds], [*bounds, None], strict=True)
    ]


def _run_slices(conns: Sequence[psycopg.Connection], slices: list[_Slice]) -> list[dict[int, Figures]]:
    """Run the slices' queries, each connection taking the next one when it is free; the first
    failure is raised once every connection is idle again."""
    results: list[dict[int, Figures]] = [{} for _ in slices]
    pending = iter(range(len(slices)))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work(conn: psycopg.Connection) -> None:
        while not failures:
            with lock:
                index = next(pending, None)
            if index is None:
                return
            try:
                results[index] = _slice_stats(conn, slices[index])
            except BaseException as exc:  # raised below, in the caller's thread
                failures.append(exc)

    threads = [threading.Thread(target=work, args=(c,), name="backupd-prove") for c in conns[1:]]
    for thread in threads:
        thread.start()
    try:
        work(conns[0])
    finally:
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    return results


def _slice_stats(conn: psycopg.Connection, piece: _Slice) -> dict[int, Figures]:
    """Per previous part (bucket), in one slice of the heap: rows, unproved row versions, lowest and highest key."""
    table, key = piece.table, split_key(piece.table)
    bounds = previous_bounds(table, piece.before) or []
    bucket = key.bucket(bounds) if key is not None and bounds else sql.SQL("0")
    lowest, highest = key.lowest_and_highest() if key is not None else (sql.SQL("NULL"), sql.SQL("NULL"))
    blocks = []
    if piece.first is not None:
        blocks.append(sql.SQL("t.ctid >= {}::tid").format(sql.Literal(f"({piece.first},0)")))
    if piece.stop is not None:
        blocks.append(sql.SQL("t.ctid < {}::tid").format(sql.Literal(f"({piece.stop},0)")))
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(blocks) if blocks else sql.SQL("")
    query = sql.SQL(
        "SELECT {b} AS bucket, count(*), count(*) FILTER (WHERE {since}), {lo}, {hi}"
        " FROM ONLY {t} AS t{where} GROUP BY 1"
    ).format(b=bucket, since=piece.horizon.created_since(), lo=lowest, hi=highest, t=table.ident, where=where)
    number = key.number if key is not None else (lambda _value: None)
    return {int(b): (int(c), int(u), number(lo), number(hi)) for b, c, u, lo, hi in conn.execute(query).fetchall()}


def _merge(a: Figures | None, b: Figures) -> Figures:
    """Two slices' figures for one bucket, added up."""
    if a is None:
        return b
    lows = [k for k in (a[2], b[2]) if k is not None]
    highs = [k for k in (a[3], b[3]) if k is not None]
    return (a[0] + b[0], a[1] + b[1], min(lows) if lows else None, max(highs) if highs else None)


def _range_proofs(table: Table, before: ManifestTable, stats: dict[int, Figures]) -> list[RangeProof]:
    """One RangeProof per previous part, from the per-bucket figures of the whole table."""
    assert before.parts is not None
    bounds = previous_bounds(table, before) or []
    proofs = []
    for index, part in enumerate(before.parts):
        count, since, lo, hi = stats.get(index, (0, 0, None, None))
        proofs.append(
            RangeProof(
                part=part,
                lower=None if index == 0 else bounds[index - 1],
                upper=bounds[index] if index < len(bounds) else None,
                count=count,
                created_since=since,
                min_key=lo,
                max_key=hi,
            )
        )
    return proofs


def _one(cursor: psycopg.Cursor[tuple[Any, ...]]) -> tuple[Any, ...]:
    row = cursor.fetchone()
    assert row is not None
    return row
