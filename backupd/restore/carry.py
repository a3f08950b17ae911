"""Shadow tables: complete copies of the live tables' definitions, built before the swap.

A shadow gets everything of its live table that a catalog swap would otherwise lose: columns,
defaults, identity, generated columns, CHECK and NOT NULL constraints, storage, compression,
comments, extended statistics (CREATE TABLE … LIKE), and then, after its rows are loaded, every
index, primary key, unique and exclusion constraint, foreign key (to the other shadows or to
tables outside the set), trigger with its enabled state, row-level security and policies,
replica identity, clustering, statistics targets, options, owner and privileges. Dependants
outside the table (views, foreign keys from other tables, owned sequences, publications) are
re-pointed inside the swap (`swap/`).

PostgreSQL 17 and 18 additions are carried too: NOT VALID NOT NULL constraints (18), which
CREATE TABLE … LIKE would copy as valid (and the rows they let the table keep would not load),
are dropped from the new shadow and added back NOT VALID once its rows are in, as are NOT VALID
CHECK constraints (every version); NOT ENFORCED foreign keys stay NOT ENFORCED; temporal keys
(PRIMARY KEY/UNIQUE … WITHOUT OVERLAPS, FOREIGN KEY … PERIOD) keep their periods; virtual
generated columns and uuidv7() defaults come with LIKE … INCLUDING GENERATED / DEFAULTS.

Whatever this module does not know how to carry (rules, inheritance, materialized views, column
lists of publications, security labels, functions bound to the table's row type, …) yields a
reason, and the restore falls back to the in-place swap, which keeps the live tables and so
keeps everything. The swap drops the old tables without CASCADE: anything still depending on
them that was missed makes the swap fail and fall back too, never silently disappear.

This module reads the table itself (options, owner, comment, replica identity), what depends on it
(views, sequences, publications, extended statistics) and puts one table's carry together; the keys
are read by `carry_keys.py`, privileges, policies, triggers and column settings by `carry_access.py`,
and the types they fill in `carry_base.py` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import psycopg
from psycopg import sql

from .carry_access import carry_columns, carry_policies, carry_triggers, grants
from .carry_base import (
    CannotCarry,
    Carry,
    ForeignKeyPlan,
    SetCarry,
    Statement,
    catalog_rows,
    option_list,
    qualified_name,
)
from .carry_keys import carry_foreign_keys, carry_indexes, outside_foreign_keys, readd_unvalidated, relax_unvalidated
from .shadows import ShadowTable, staging_schema

__all__ = ["CannotCarry", "Carry", "ForeignKeyPlan", "SetCarry", "plan_carry", "relax_unvalidated"]


def plan_carry(conn: psycopg.Connection, plans: list[ShadowTable]) -> SetCarry:
    """Read what each live table has; raises CannotCarry naming the first thing it cannot carry."""
    in_set = {p.table.oid: p for p in plans}
    tables = [_table_carry(conn, p, in_set) for p in plans]
    views = _views(conn, plans)
    outside, children = outside_foreign_keys(conn, plans, in_set)
    return SetCarry(tables, views, outside, children)


class _LiveTable(NamedTuple):
    """What pg_class says of a live table that its shadow must repeat."""

    persistence: str
    reloptions: list[str] | None
    toast_options: list[str] | None
    owner: str
    acl: list[str] | None
    rls: bool
    force_rls: bool
    replident: str
    comment: str | None


def _table_carry(conn: psycopg.Connection, plan: ShadowTable, in_set: dict[int, ShadowTable]) -> Carry:
    """One table's carry; its statements are listed in the order they run."""
    live = _live_table(conn, plan)
    _check_dependants(conn, plan)
    carry = Carry(plan)
    shadow = plan.typed
    carry.create = _create_shadow(conn, plan, live)
    readd_unvalidated(conn, carry, shadow)
    carry.swap_options = _swap_options(plan.table.ident, live)

    if live.owner != catalog_rows(conn, "SELECT current_user", [])[0][0]:
        carry.finish.append(sql.SQL("ALTER TABLE {} OWNER TO {}").format(shadow, sql.Identifier(live.owner)))
    carry_indexes(conn, carry, shadow)
    carry_foreign_keys(conn, carry, in_set)
    carry_triggers(conn, carry, shadow)
    carry_columns(conn, carry, shadow)
    carry_policies(conn, carry, shadow, live.rls, live.force_rls)
    if live.replident == "f":
        carry.finish.append(sql.SQL("ALTER TABLE {} REPLICA IDENTITY FULL").format(shadow))
    elif live.replident == "n":
        carry.finish.append(sql.SQL("ALTER TABLE {} REPLICA IDENTITY NOTHING").format(shadow))
    if live.comment is not None:
        carry.finish.append(sql.SQL("COMMENT ON TABLE {} IS {}").format(shadow, sql.Literal(live.comment)))
    if live.acl is not None:
        carry.finish.extend(grants(shadow, live.acl, live.owner, None))
    _sequences(conn, carry)
    _publications(conn, carry)
    _statistics(conn, carry, shadow)
    return carry


def _live_table(conn: psycopg.Connection, plan: ShadowTable) -> _LiveTable:
    """Read the live table's pg_class row; refuse the kinds of table a shadow cannot replace."""
    key = plan.key
    (
        persistence,
        reloptions,
        toast_options,
        tablespace,
        owner,
        acl,
        rls,
        force_rls,
        replident,
        inherits,
        oftype,
        comment,
        labels,
    ) = catalog_rows(
        conn,
        """
        SELECT c.relpersistence, c.reloptions, t.reloptions, c.reltablespace, pg_get_userbyid(c.relowner),
               c.relacl::text[], c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
               EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid OR inhparent = c.oid),
               c.reloftype <> 0, obj_description(c.oid, 'pg_class'),
               EXISTS (SELECT 1 FROM pg_seclabel WHERE objoid = c.oid AND classoid = 'pg_class'::regclass)
        FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = %s""",
        [plan.table.oid],
    )[0]
    if plan.table.partitioned or inherits:
        raise CannotCarry(f"{key} is part of an inheritance or partition tree")
    if oftype:
        raise CannotCarry(f"{key} is a typed table")
    if tablespace:
        raise CannotCarry(f"{key} is in a non-default tablespace")
    if labels:
        raise CannotCarry(f"{key} has security labels")
    return _LiveTable(persistence, reloptions, toast_options, owner, acl, rls, force_rls, replident, comment)


def _create_shadow(conn: psycopg.Connection, plan: ShadowTable, live: _LiveTable) -> Statement:
    """CREATE TABLE … LIKE the live table, with its options and autovacuum off while the rows load,
    then (if any) the drop of the constraints that are NOT VALID on the live table."""
    shadow = plan.typed
    options = [o for o in (live.reloptions or []) if not o.startswith("autovacuum_enabled=")]
    toast = [f"toast.{o}" for o in (live.toast_options or []) if not o.startswith("autovacuum_enabled=")]
    load_options = options + toast + ["autovacuum_enabled=false"] + (["toast.autovacuum_enabled=false"])
    create: Statement = sql.SQL(
        "CREATE {unlogged}TABLE {shadow} (LIKE {live} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        " INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS{compression}"
        ") WITH ({options})"
    ).format(
        unlogged=sql.SQL("UNLOGGED " if live.persistence == "u" else ""),
        shadow=shadow,
        live=plan.table.ident,
        compression=sql.SQL(" INCLUDING COMPRESSION" if conn.info.server_version >= 140000 else ""),
        options=sql.SQL(", ").join(sql.SQL(o) for o in option_list(load_options)),
    )
    relax = relax_unvalidated(conn, plan.table.oid, shadow)
    if relax:
        create = sql.Composed(_semicolons([create, *relax]))
    return create


def _swap_options(live: sql.Composable, table: _LiveTable) -> Statement:
    """What autovacuum_enabled said on the live table (and its TOAST table), put back in the swap."""
    restore = [o for o in (table.reloptions or []) if o.startswith("autovacuum_enabled=")]
    restore += [f"toast.{o}" for o in (table.toast_options or []) if o.startswith("autovacuum_enabled=")]
    resets = [
        r for r in ("autovacuum_enabled", "toast.autovacuum_enabled") if not any(o.startswith(r + "=") for o in restore)
    ]
    parts: list[sql.Composable] = []
    if restore:
        parts.append(
            sql.SQL("ALTER TABLE {} SET ({})").format(
                live, sql.SQL(", ").join(sql.SQL(o) for o in option_list(restore))
            )
        )
    parts.append(sql.SQL("ALTER TABLE {} RESET ({})").format(live, sql.SQL(", ").join(sql.SQL(r) for r in resets)))
    return sql.Composed(_semicolons(parts))


def _semicolons(parts: Sequence[sql.Composable]) -> list[sql.Composable]:
    out: list[sql.Composable] = []
    for part in parts:
        if out:
            out.append(sql.SQL("; "))
        out.append(part)
    return out


def _check_dependants(conn: psycopg.Connection, plan: ShadowTable) -> None:
    """Refuse anything that depends on the table (or its row type) and is not carried."""
    rows = catalog_rows(
        conn,
        """
        SELECT pg_describe_object(d.classid, d.objid, d.objsubid), d.deptype,
               d.classid::regclass::text, COALESCE(v.relkind::text, '')
        FROM pg_depend d
        LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
        LEFT JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %s AND d.objid <> %s
          AND NOT (d.classid IN ('pg_class'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass,
                                 'pg_policy'::regclass, 'pg_attrdef'::regclass, 'pg_type'::regclass,
                                 'pg_statistic_ext'::regclass, 'pg_publication_rel'::regclass))
          AND NOT (d.classid = 'pg_rewrite'::regclass AND d.deptype = 'n' AND v.relkind = 'v'
                   AND r.ev_class <> %s)
        UNION ALL
        SELECT pg_describe_object(d.classid, d.objid, d.objsubid), d.deptype, d.classid::regclass::text, ''
        FROM pg_depend d JOIN pg_type t ON d.refclassid = 'pg_type'::regclass
             AND (d.refobjid = t.oid OR d.refobjid = t.typarray)
        WHERE t.typrelid = %s AND d.deptype = 'n'
        LIMIT 1""",
        [plan.table.oid, plan.table.oid, plan.table.oid, plan.table.oid],
    )
    if rows:
        raise CannotCarry(f"{rows[0][0]} depends on {plan.key}")


def _sequences(conn: psycopg.Connection, carry: Carry) -> None:
    """Serial sequences (OWNED BY a column) are kept and re-owned; identity sequences are new."""
    for column, sequence, deptype, name in catalog_rows(
        conn,
        """
            SELECT a.attname, d.objid::regclass::text, d.deptype, s.relname FROM pg_depend d
            JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.deptype IN ('a', 'i') AND d.refobjid = %s ORDER BY a.attnum""",
        [carry.plan.table.oid],
    ):
        if deptype == "a":
            carry.serial_sequences.append((sequence, column))
        else:
            carry.identity_columns.append((column, name))


def _publications(conn: psycopg.Connection, carry: Carry) -> None:
    detail = "pr.prqual IS NOT NULL OR pr.prattrs IS NOT NULL" if conn.info.server_version >= 150000 else "false"
    for name, partial in catalog_rows(
        conn,
        f"""
            SELECT p.pubname, {detail} FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
            WHERE pr.prrelid = %s ORDER BY p.pubname""",
        [carry.plan.table.oid],
    ):
        if partial:
            raise CannotCarry(f"publication {name} publishes only part of {carry.plan.key}")
        carry.publications.append(name)


def _statistics(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    """Extended statistics objects: built on the shadow in the staging schema (so ANALYZE fills
    them), moved to their own schema in the swap once the old ones are dropped."""
    staging = staging_schema(carry.plan.schema_index)
    names = [
        qualified_name(conn, carry.plan),
        catalog_rows(conn, "SELECT quote_ident(%s)", [carry.plan.table.name])[0][0],
    ]
    for name, schema, qualified, definition, target in catalog_rows(
        conn,
        """
            SELECT s.stxname, n.nspname, quote_ident(n.nspname) || '.' || quote_ident(s.stxname),
                   pg_get_statisticsobjdef(s.oid), COALESCE(s.stxstattarget, -1)
            FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
            WHERE s.stxrelid = %s ORDER BY s.stxname""",
        [carry.plan.table.oid],
    ):
        staged = sql.Identifier(staging, name)
        head = f"CREATE STATISTICS {qualified} "
        tails = [f" FROM {n}" for n in names if definition.endswith(f" FROM {n}")]
        if not definition.startswith(head) or not tails:
            raise CannotCarry(f"cannot rewrite the definition of statistics {qualified}")
        body = definition[len(head) : -len(tails[0])]
        carry.finish.append(sql.SQL("CREATE STATISTICS {} {} FROM {}").format(staged, sql.SQL(body), shadow))
        if target >= 0:  # ALTER STATISTICS … SET STATISTICS (NULL from 17 on, -1 before: the default)
            carry.finish.append(sql.SQL("ALTER STATISTICS {} SET STATISTICS {}").format(staged, sql.Literal(target)))
        carry.statistics.append((qualified, staged, schema))


def _views(conn: psycopg.Connection, plans: list[ShadowTable]) -> list[Statement]:
    """Views that read the set's tables, to be re-created over the new ones (same OID, same
    privileges: CREATE OR REPLACE). Definitions are read with this session's search_path, which
    is the one they are replayed with."""
    rows = catalog_rows(
        conn,
        """
        SELECT DISTINCT v.oid, v.oid::regclass::text, pg_get_viewdef(v.oid), v.reloptions
        FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
        JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY(%s) AND d.deptype = 'n'
          AND v.relkind = 'v' AND NOT (v.oid = ANY(%s))
        ORDER BY v.oid""",
        [[p.table.oid for p in plans], [p.table.oid for p in plans]],
    )
    out: list[Statement] = []
    for _, name, definition, options in rows:
        with_options = (
            sql.SQL(" WITH ({})").format(sql.SQL(", ").join(sql.SQL(o) for o in option_list(options)))
            if options
            else sql.SQL("")
        )
        out.append(
            sql.SQL("CREATE OR REPLACE VIEW {}{} AS {}").format(
                sql.SQL(name), with_options, sql.SQL(definition.rstrip().rstrip(";"))
            )
        )
    return out
