"""Step 1 of a restore, before anything is touched: does this archive fit this database?

The archive's table set against the configured one (or the subset asked for), every archived
column against the live table's (name, type, generated or not), and the free disk space on the
server against what the shadows will need. Anything that would silently lose or invent data is
refused here with its reason, so the load never starts on an archive it cannot restore exactly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import psycopg

from ..archive import ArchiveReader, ManifestTable
from ..db.catalog import Table, describe_tables
from ..db.connection import one_row
from ..errors import ArchiveError, RestoreError
from .shadows import ShadowColumn, ShadowTable

# The shadows need room for the typed rows and their indexes next to the live tables (until the
# swap drops those). Refuse early rather than fill the server's disk halfway through.
DISK_FACTOR = 2.5
DISK_MARGIN = 64 * 1024 * 1024


def validate_archive_set(
    conn: psycopg.Connection, reader: ArchiveReader, names: list[str], only: Sequence[str] | None = None
) -> list[ShadowTable]:
    archived = set(reader.manifest.contents)
    if only:  # a subset of the archive's tables: each must be in it; the others are left alone
        unknown = [t for t in only if t not in archived]
        if unknown:
            raise RestoreError(f"tables not in the archive: {', '.join(unknown)}")
        names = list(only)
    live = describe_tables(conn, names)
    configured = {t.key for t in live}
    missing = sorted(configured - archived)
    extra = sorted(archived - configured) if not only else []
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"has tables that are not in the set: {', '.join(extra)}")
        raise RestoreError(
            f"the archive's tables do not match the configured table set ({', '.join(sorted(configured))}): "
            + "; ".join(parts)
        )
    plans = [
        ShadowTable(
            index=i,
            table=table,
            count=reader.manifest.contents[table.key].count,
            declared_bytes=reader.declared_bytes(table.key),
            columns=compatible_columns(table, reader.manifest.contents[table.key]),
            sequences=dict(reader.manifest.contents[table.key].sequences or {}),
        )
        for i, table in enumerate(live)
    ]
    check_disk(conn, reader.total_declared_bytes())
    return plans


def compatible_columns(table: Table, entry: ManifestTable) -> list[ShadowColumn]:
    """The archive's columns mapped onto the live table; a clear error for any difference.

    A live generated column may be absent from the archive (PostgreSQL recomputes it); anything
    else missing, extra, renamed or retyped would silently lose or invent data, so it is refused.
    """
    if entry.columns is None:  # a seed-style manifest without column info: trust the live table
        return [ShadowColumn(c, as_text=False) for c in table.columns]
    archived = {c.name: c for c in entry.columns}
    if len(archived) != len(entry.columns):
        raise ArchiveError(f"invalid manifest: duplicate column in {table.key}")
    live = {c.name: c for c in table.columns}
    for name in archived:
        if name not in live:
            raise RestoreError(
                f"column mismatch in {table.key}: the archive has column {name!r}, the database table does not"
            )
    staged: list[ShadowColumn] = []
    for col in table.columns:
        arch = archived.get(col.name)
        if arch is None:
            if col.generated:
                continue
            raise RestoreError(
                f"column mismatch in {table.key}: the database table has column {col.name!r}, the archive does not"
            )
        if arch.type != col.type_sql:
            raise RestoreError(
                f"column mismatch in {table.key}.{col.name}: archived as {arch.type}, the database has {col.type_sql}"
            )
        if bool(arch.generated) != col.generated:
            what = "generated" if col.generated else "not generated"
            raise RestoreError(f"column mismatch in {table.key}.{col.name}: it is {what} in the database")
        as_text = arch.encoding == "text"
        if as_text and not col.carried_as_text:
            raise ArchiveError(f"invalid manifest: {table.key}.{col.name} has text encoding but is not json")
        staged.append(ShadowColumn(col, as_text=as_text))
    return staged


def check_disk(conn: psycopg.Connection, declared: int) -> None:
    """When the server runs on this machine, make sure staging fits on its disk."""
    try:
        row = one_row(conn.execute("SELECT current_setting('data_directory'), inet_server_addr()::text"))
    except psycopg.Error:  # not allowed to read data_directory: nothing to check against
        return
    data_dir, addr = row[0], row[1]
    if addr not in (None, "127.0.0.1/32", "::1/128") or not os.path.isdir(data_dir):
        return
    need = int(declared * DISK_FACTOR) + DISK_MARGIN
    free = shutil.disk_usage(data_dir).free
    if free < need:
        raise RestoreError(
            f"not enough free disk space on the database server: the restore needs about "
            f"{need // 2**20} MiB, {free // 2**20} MiB are free"
        )
