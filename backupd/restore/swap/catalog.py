"""One attempt of the catalog swap: the shadows move in, the live tables out, in one short transaction.

A module of its own because it is one of the swap's two strategies (the other is `in_place.py`),
with its own failure modes: CatalogFallback (the swap cannot be done this way: fall back to the
in-place swap) and OldSnapshot (a transaction older than the load is open: wait, or fall back).
The package's `swap()` decides what to do about them and about busy locks.
"""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql

from ...db.catalog import outside_references
from ...db.connection import one_row
from ...errors import RestoreError
from ..carry import SetCarry
from ..shadows import ShadowTable, old_schema
from .outside import outside_dependants
from .sequences import identity_sequence, raise_sequences

log = logging.getLogger(__name__)


class CatalogFallback(Exception):
    """The catalog swap cannot be done; the message says why."""


class OldSnapshot(Exception):
    pass


class _DroppedOnTrial(Exception):
    """Rolls back the savepoint of the trial DROP."""


def catalog_once(
    conn: psycopg.Connection, plans: list[ShadowTable], carry: SetCarry, lock_wait: float, loaded_xid: str
) -> float:
    """One attempt. Readers that queue behind the ACCESS EXCLUSIVE locks this attempt holds start
    waiting after it began; all of its own lock waits end within `lock_wait` of its start, before
    any such reader's deadlock check (deadlock_timeout after it began waiting) could pick the
    reader as the victim of a cycle through us: the attempt gives up first, and the reader goes on."""
    lock_list = sql.SQL(", ").join([p.table.ident for p in plans] + [p.typed for p in plans] + carry.outside_children)
    try:
        with conn.transaction():
            began = time.monotonic()
            budget = sql.Literal(f"{max(1, round(lock_wait * 1000))}ms")
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {0}; SET LOCAL statement_timeout = {0}").format(budget))
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(lock_list))
            locked = time.monotonic()
            left = sql.Literal(f"{max(1, round((lock_wait - (locked - began)) * 1000))}ms")
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = 0").format(left))
            _refuse_old_snapshots(conn, loaded_xid)
            log.debug("swap: snapshots %.1fms", (time.monotonic() - locked) * 1000)
            outside_dependants(conn, plans, outside_references(conn, [p.table for p in plans]))
            log.debug("swap: outside %.1fms", (time.monotonic() - locked) * 1000)
            _move(conn, plans, carry)
            log.debug("swap: moved %.1fms", (time.monotonic() - locked) * 1000)
        log.debug("swap: committed %.1fms", (time.monotonic() - locked) * 1000)
    except (RestoreError, OldSnapshot, psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
        raise
    except psycopg.errors.QueryCanceled as exc:  # the LOCK statement ran out of its budget
        raise psycopg.errors.LockNotAvailable(str(exc)) from exc
    except psycopg.Error as exc:
        raise CatalogFallback(
            f"the catalog swap failed: {exc.diag.message_primary or exc}"
            + (f" ({exc.diag.message_detail})" if exc.diag.message_detail else "")
        ) from exc
    return time.monotonic() - locked


def _refuse_old_snapshots(conn: psycopg.Connection, loaded_xid: str) -> None:
    """A snapshot taken before the shadows were loaded would see the new tables empty."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()"
        " AND backend_type = 'client backend' AND backend_xmin IS NOT NULL"
        " AND age(backend_xmin) > age(%s::xid) LIMIT 1",
        [loaded_xid],
    ).fetchone()
    if row is not None:
        raise OldSnapshot(f"a transaction older than the restore's load is open (pid {row[0]})")


def _move(conn: psycopg.Connection, plans: list[ShadowTable], carry: SetCarry) -> None:
    run = conn.execute
    for child, name, _ in carry.outside_fks:
        run(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(child, sql.Identifier(name)))
    identity_values: dict[tuple[int, str], int] = {}
    for t in carry.tables:
        for seq, _ in t.serial_sequences:
            run(sql.SQL("ALTER SEQUENCE {} OWNED BY NONE").format(sql.SQL(seq)))
        for column, _ in t.identity_columns:
            identity_values[(t.plan.index, column)] = one_row(
                run(
                    sql.SQL("SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {}").format(
                        sql.SQL(identity_sequence(conn, t.plan, column))
                    )
                )
            )[0]
    for t in carry.tables:
        live, live_schema = t.plan.table.ident, sql.Identifier(t.plan.table.schema)
        run(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(live, sql.Identifier(old_schema(t.plan.schema_index))))
        run(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(t.plan.typed, live_schema))
        if t.swap_options is not None:
            run(t.swap_options)
    for t in carry.tables:
        for old, staged, schema in t.statistics:
            run(sql.SQL("DROP STATISTICS {}").format(sql.SQL(old)))
            run(sql.SQL("ALTER STATISTICS {} SET SCHEMA {}").format(staged, sql.Identifier(schema)))
        for column, old_name in t.identity_columns:
            new_seq = identity_sequence(conn, t.plan, column)
            if one_row(run("SELECT relname FROM pg_class WHERE oid = %s::regclass", [new_seq]))[0] != old_name:
                run(sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(sql.SQL(new_seq), sql.Identifier(old_name)))
        for seq, column in t.serial_sequences:
            run(
                sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                    sql.SQL(seq), sql.Identifier(t.plan.table.schema, t.plan.table.name, column)
                )
            )
        for publication in t.publications:
            run(sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(sql.Identifier(publication), t.plan.table.ident))
    for view in carry.views:
        run(view)
    for _, _, fk in carry.outside_fks:
        run(fk.add)
    for t in carry.tables:
        raise_sequences(conn, t.plan, {c: v for (i, c), v in identity_values.items() if i == t.plan.index})
    # Nothing may still depend on the old tables (else it would follow them into oblivion): a
    # DROP without CASCADE proves it, and is rolled back, because unlinking their files at
    # COMMIT takes time growing with their size; they are dropped after the lock is gone.
    try:
        with conn.transaction():
            run(sql.SQL("DROP TABLE {}").format(sql.SQL(", ").join(p.old for p in plans)))
            raise _DroppedOnTrial
    except _DroppedOnTrial:
        pass
