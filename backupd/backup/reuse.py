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

if TYPE_CHECKING:
    from pathlib import Path

    from ..jobs.records import JobRecords
    from ..store import Store, StoredArchive

log = logging.getLogger("backupd.backup")

XID_SPACE = 1 << 32
# The previous snapshot must be less than 2^31 transactions old: then every xid created since it
# is within 2^31 of this snapshot, which is what lets a 32-bit tuple xmin be placed exactly (below).
MAX_XID_DISTANCE = 1 << 31
INTEGER_KEYS = ("integer", "bigint", "smallint")


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
    if before.part_bounds:
        if not integer_key(table) or len(before.part_bounds) != len(before.parts) - 1:
            return None
        if any(b >= a for a, b in zip(before.part_bounds[1:], before.part_bounds, strict=False)):
            return None
    elif len(before.parts) != 1:
        return None
    return before


def integer_key(table: Table) -> bool:
    return len(table.primary_key) == 1 and table.column(table.primary_key[0]).type_sql in INTEGER_KEYS


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


def prove(conn: psycopg.Connection, table: Table, before: ManifestTable, horizon: Horizon) -> list[RangeProof]:
    """One scan of the table in this snapshot: per previous part, rows and unproved row versions."""
    assert before.parts is not None
    bounds = before.part_bounds or []
    keyed = integer_key(table)
    key = sql.SQL("t.{}").format(sql.Identifier(table.primary_key[0])) if keyed else sql.SQL("NULL::bigint")
    bucket = (
        sql.SQL("width_bucket({}::bigint, {}::bigint[])").format(key, sql.Literal(bounds)) if bounds else sql.SQL("0")
    )
    only = sql.SQL("ONLY ")
    query = sql.SQL(
        "SELECT {b} AS bucket, count(*), count(*) FILTER (WHERE {since}), min({k}), max({k})"
        " FROM {only}{t} AS t GROUP BY 1"
    ).format(b=bucket, since=horizon.created_since(), k=key, only=only, t=table.ident)
    stats = {int(b): (int(c), int(u), lo, hi) for b, c, u, lo, hi in conn.execute(query).fetchall()}
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
