"""Restoring into a database that lacks the archive's tables: a new machine, an empty drill target.

From format 1.1 on, the manifest carries each table's definition (`definitions.py`), so the
missing tables are created from the archive alone, empty, in one transaction, before the
restore loads and swaps as usual. If the restore then fails (or is a dry run) they are dropped
again, so a failed restore into an empty database leaves it empty. A 1.0 archive carries no
definitions: only the demo application's tables can be created for it (its own schema file).

What an archive never carries (functions, triggers, views, policies, grants, extensions) is not
created; `Recreated.not_recreated` says so, and the CLI prints it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg
from psycopg import sql

from .. import DEFAULT_TABLES
from ..archive import Manifest
from ..db.connection import connect, one_row
from ..db.definitions import missing_tables
from ..db.migrations import create_demo_schema
from ..db.recreate import Recreated, recreate_tables
from ..errors import BackupdError, RestoreError

log = logging.getLogger(__name__)

_DEMO_TYPES = ("alert_severity", "alert_status", "zone_type", "zone_shape", "member_role", "trust_level")


def archive_set(manifest: Manifest) -> tuple[list[str], list[str]]:
    """The archive's table set: (names that resolve in a database, the manifest's keys), parents first.

    A key ("schema.table", unquoted) does not resolve when a name holds dots, quotes or capitals;
    a 1.1 manifest's definition gives schema and name apart, so they are quoted exactly.
    """
    keys = list(manifest.table_order or manifest.contents)
    names = []
    for key in keys:
        definition = manifest.contents[key].definition if key in manifest.contents else None
        names.append(definition.ident.as_string(None) if definition is not None else key)
    return names, keys


def table_set_for(
    conn: psycopg.Connection, manifest: Manifest, configured: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The configured table set, or the archive's when none of the configured tables exists here;
    with the archive keys a missing table may be created for.

    On a new machine (or a drill target) the configured set may be the default demo set while the
    archive holds the application's tables: the archive is then the only truth there is.
    """
    exists = one_row(
        conn.execute("SELECT bool_or(to_regclass(n) IS NOT NULL) FROM unnest(%s::text[]) AS n", [list(configured)])
    )[0]
    if exists:
        return list(configured), [k for k in configured if k in manifest.contents]
    return archive_set(manifest)


def recreate_missing(conn: psycopg.Connection, manifest: Manifest, keys: Sequence[str]) -> Recreated | None:
    """Create the tables of `keys` that do not exist (committed, empty); None when all exist.

    Raises RestoreError (nothing created) when the archive cannot define a missing table.
    """
    missing = missing_tables(conn, [k for k in keys if k in manifest.contents])  # keys, not names
    if not missing:
        return None
    definitions = {k: e.definition for k, e in manifest.contents.items() if e.definition is not None}
    with conn.transaction():
        if all(k in definitions for k in missing):
            recreated = recreate_tables(conn, list(manifest.types or []), definitions, missing)
        elif set(missing) <= set(DEFAULT_TABLES):
            recreated = _demo_tables(conn, missing)
        else:
            lacking = next(k for k in missing if k not in definitions)
            raise RestoreError(
                f"table not found: {lacking}; the archive (format {manifest.version}) does not carry its"
                " definition, so create the table first"
            )
    log.info("created %d table(s) from the archive: %s", len(recreated.tables), ", ".join(recreated.tables))
    return recreated


def _demo_tables(conn: psycopg.Connection, missing: list[str]) -> Recreated:
    """A 1.0 archive of the demo tables: create them from the demo schema file."""
    types = [t for t in _DEMO_TYPES if one_row(conn.execute("SELECT to_regtype(%s) IS NULL", [f"public.{t}"]))[0]]
    create_demo_schema(conn)
    created = [t for t in DEFAULT_TABLES if t in missing]
    return Recreated(tables=created, types=[f"public.{t}" for t in types], schemas=[], sequences=[], not_recreated=[])


def drop_recreated(database_url: str, recreated: Recreated) -> None:
    """Undo recreate_missing after a failed restore or a dry run: drop exactly what it created.

    Nothing else can depend on tables that were created empty moments ago, so a plain DROP
    (never CASCADE) succeeds; if it does not, the error is logged and the tables stay.
    """
    statements: list[sql.Composed] = []
    if recreated.tables:
        statements.append(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.SQL(", ").join(_ident(t) for t in recreated.tables))
        )
    statements += [sql.SQL("DROP SEQUENCE IF EXISTS {}").format(_ident(s)) for s in recreated.sequences]
    statements += [sql.SQL("DROP TYPE IF EXISTS {}").format(_ident(t)) for t in reversed(recreated.types)]
    statements += [sql.SQL("DROP SCHEMA IF EXISTS {}").format(sql.Identifier(s)) for s in recreated.schemas]
    try:
        with connect(database_url, application_name="backupd-restore-cleanup") as conn, conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '10s'")
            for statement in statements:
                conn.execute(statement)
    except (psycopg.Error, BackupdError) as exc:
        log.warning("could not drop the tables created for the restore (%s): %s", ", ".join(recreated.tables), exc)


def _ident(name: str) -> sql.Identifier:
    """A key as the archive writes it ("events", "app.events") as an identifier."""
    schema, _, relname = name.rpartition(".")
    return sql.Identifier(schema or "public", relname)
