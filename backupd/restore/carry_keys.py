"""Keys a shadow must carry: indexes, primary key, unique and exclusion constraints, NOT VALID
CHECK and NOT NULL constraints, and foreign keys, both the shadow's own and those of tables
outside the set that point at it (re-added by the swap).

One module because these share the index-and-constraint catalog (pg_index, pg_constraint) and
the loader's build order: indexes in parallel, then constraints, then foreign keys across the set.
"""

from __future__ import annotations

from typing import NamedTuple

import psycopg
from psycopg import sql

from .carry_base import CannotCarry, Carry, ForeignKeyPlan, Statement, catalog_rows, qualified_name, retarget
from .shadows import ShadowTable, staging_schema

_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_MATCH = {"f": "MATCH FULL", "p": "MATCH PARTIAL", "s": "MATCH SIMPLE"}


def _unvalidated(conn: psycopg.Connection, oid: int) -> list[tuple[str, str, str | None]]:
    """(name, definition, comment) of the table's enforced CHECK and NOT NULL constraints that
    are NOT VALID (NOT NULL ones exist from PostgreSQL 18 on, as pg_constraint rows of type 'n').

    CREATE TABLE … LIKE copies both as valid: the restored table would claim a validation that
    never happened, and the rows those constraints let the live table keep (old NULLs, old
    out-of-range values: why they were added NOT VALID) could not even be loaded."""
    if conn.info.server_version >= 180000:
        kinds, enforced = "('c', 'n')", "con.conenforced"
    else:
        kinds, enforced = "('c')", "true"
    return catalog_rows(
        conn,
        f"""
        SELECT con.conname, pg_get_constraintdef(con.oid), obj_description(con.oid, 'pg_constraint')
        FROM pg_constraint con
        WHERE con.conrelid = %s AND con.contype IN {kinds} AND NOT con.convalidated AND {enforced}
        ORDER BY con.conname""",
        [oid],
    )


def relax_unvalidated(conn: psycopg.Connection, oid: int, shadow: sql.Composable) -> list[Statement]:
    """Statements that drop from a new LIKE-made shadow of table `oid` the constraints that are
    NOT VALID on the live table, so that every row the live table may hold loads (both swaps)."""
    return [
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(shadow, sql.Identifier(name))
        for name, _, _ in _unvalidated(conn, oid)
    ]


def readd_unvalidated(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    """Add the relaxed constraints back once the rows are in, NOT VALID as on the live table
    (pg_get_constraintdef ends in NOT VALID), with their comments."""
    for name, definition, comment in _unvalidated(conn, carry.plan.table.oid):
        if not definition.endswith(" NOT VALID"):
            raise CannotCarry(f"cannot rewrite the definition of constraint {name} of {carry.plan.key}")
        carry.constraints.append(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(shadow, sql.Identifier(name), sql.SQL(definition))
        )
        if comment is not None:
            carry.finish.append(
                sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                    sql.Identifier(name), shadow, sql.Literal(comment)
                )
            )


class IndexRow(NamedTuple):
    """One index of the live table and the constraint it backs, if any (the columns of _INDEX_ROWS)."""

    name: str
    definition: str  # pg_get_indexdef
    constraint: str | None
    contype: str | None  # p, u, x or None
    deferrable: bool | None
    deferred: bool | None
    constraint_definition: str | None
    clustered: bool
    replica_identity: bool
    valid: bool
    tablespace: int
    comment: str | None
    constraint_comment: str | None
    temporal: bool  # … WITHOUT OVERLAPS (18)


# The longest builds first (the last one ends sooner), but the primary key before other B-trees:
# the comparison of the restore's changes waits for it.
_INDEX_ROWS = """
SELECT ic.relname, pg_get_indexdef(i.indexrelid), con.conname, con.contype, con.condeferrable,
       con.condeferred, pg_get_constraintdef(con.oid), i.indisclustered, i.indisreplident,
       i.indisvalid, ic.reltablespace, obj_description(i.indexrelid, 'pg_class'),
       obj_description(con.oid, 'pg_constraint'), {period}
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                            AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = %s
ORDER BY (SELECT amname FROM pg_am WHERE oid = ic.relam) = 'btree', NOT i.indisprimary,
         pg_relation_size(i.indexrelid) DESC, ic.relname"""


def carry_indexes(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    """Every index of the live table, built on the shadow, with the constraints, clustering, replica
    identity and comments that hang on them."""
    live_name = qualified_name(conn, carry.plan)
    period = "COALESCE(con.conperiod, false)" if conn.info.server_version >= 180000 else "false"
    for row in catalog_rows(conn, _INDEX_ROWS.format(period=period), [carry.plan.table.oid]):
        _carry_index(carry, shadow, live_name, IndexRow(*row))


def _carry_index(carry: Carry, shadow: sql.Identifier, live_name: str, ix: IndexRow) -> None:
    if not ix.valid:
        raise CannotCarry(f"index {ix.name} of {carry.plan.key} is not valid")
    if ix.tablespace:
        raise CannotCarry(f"index {ix.name} of {carry.plan.key} is in a non-default tablespace")
    name = sql.Identifier(ix.name)

    def add_constraint() -> Statement:
        return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            shadow, sql.Identifier(ix.constraint or ""), sql.SQL(ix.constraint_definition or "")
        )

    if ix.contype == "x":
        carry.constraints.append(add_constraint())
    elif ix.temporal:  # … WITHOUT OVERLAPS (18): its GiST index cannot be built on its own first
        carry.indexes.append(add_constraint())
    else:
        where = f"index {ix.name} of {carry.plan.key}"
        carry.indexes.append(
            sql.SQL(retarget(ix.definition, f" ON {live_name} USING ", f" ON {shadow.as_string(None)} USING ", where))
        )
    if ix.contype == "p":
        carry.key_index = carry.indexes[-1]
    if ix.contype in ("p", "u") and not ix.temporal:
        kind = "PRIMARY KEY" if ix.contype == "p" else "UNIQUE"
        timing = (" DEFERRABLE" + (" INITIALLY DEFERRED" if ix.deferred else "")) if ix.deferrable else ""
        carry.constraints.append(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}{}").format(
                shadow, sql.Identifier(ix.constraint or ""), sql.SQL(kind), name, sql.SQL(timing)
            )
        )
    if ix.clustered:
        carry.finish.append(sql.SQL("ALTER TABLE {} CLUSTER ON {}").format(shadow, name))
    if ix.replica_identity:
        carry.finish.append(sql.SQL("ALTER TABLE {} REPLICA IDENTITY USING INDEX {}").format(shadow, name))
    if ix.comment is not None:
        index = sql.Identifier(staging_schema(carry.plan.schema_index), ix.name)
        carry.finish.append(sql.SQL("COMMENT ON INDEX {} IS {}").format(index, sql.Literal(ix.comment)))
    if ix.constraint_comment is not None and ix.constraint:
        carry.finish.append(
            sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                sql.Identifier(ix.constraint), shadow, sql.Literal(ix.constraint_comment)
            )
        )


class ForeignKeyRow(NamedTuple):
    """One foreign key as pg_constraint describes it (the columns of _FK_ROWS, in order)."""

    name: str
    child_oid: int
    parent_oid: int
    on_update: str
    on_delete: str
    match: str
    deferrable: bool
    deferred: bool
    validated: bool
    sets_some_columns: bool  # ON DELETE SET NULL/DEFAULT (columns): not carried
    columns: list[str]
    parent_columns: list[str]
    child: str  # the referencing table, qualified
    comment: str | None
    enforced: bool  # false only for NOT ENFORCED keys (18)
    period: bool  # a temporal key (18)


def fk_sql(fk: ForeignKeyRow, target: sql.Composable) -> Statement:
    """The FOREIGN KEY clause of a pg_constraint row (match, actions, timing), NOT VALID; or
    NOT ENFORCED for a key that is not enforced (18), which is never validated either. A temporal
    key (18) names its last column on both sides as a PERIOD."""

    def names(cols: list[str]) -> sql.Composable:
        parts: list[sql.Composable] = [sql.Identifier(c) for c in cols]
        if fk.period:
            parts[-1] = sql.SQL("PERIOD {}").format(parts[-1])
        return sql.SQL(", ").join(parts)

    return sql.SQL("FOREIGN KEY ({}) REFERENCES {} ({}) {} ON UPDATE {} ON DELETE {}{} {}").format(
        names(fk.columns),
        target,
        names(fk.parent_columns),
        sql.SQL(_MATCH[fk.match]),
        sql.SQL(_ACTIONS[fk.on_update]),
        sql.SQL(_ACTIONS[fk.on_delete]),
        sql.SQL((" DEFERRABLE" + (" INITIALLY DEFERRED" if fk.deferred else "")) if fk.deferrable else ""),
        sql.SQL("NOT VALID" if fk.enforced else "NOT ENFORCED"),
    )


_FK_ROWS = """
SELECT con.conname, con.conrelid, con.confrelid, con.confupdtype, con.confdeltype, con.confmatchtype,
       con.condeferrable, con.condeferred, con.convalidated, {delset},
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o),
       con.conrelid::regclass::text, obj_description(con.oid, 'pg_constraint'), {enforced}, {period}
FROM pg_constraint con WHERE con.contype = 'f' AND {where} ORDER BY con.conrelid, con.conname
"""


def _fk_rows(conn: psycopg.Connection, where: str, params: list[object]) -> list[ForeignKeyRow]:
    delset = "con.confdelsetcols IS NOT NULL" if conn.info.server_version >= 150000 else "false"
    new = conn.info.server_version >= 180000  # NOT ENFORCED and PERIOD foreign keys
    query = _FK_ROWS.format(
        delset=delset,
        where=where,
        enforced="con.conenforced" if new else "true",
        period="COALESCE(con.conperiod, false)" if new else "false",
    )
    return [ForeignKeyRow(*row) for row in catalog_rows(conn, query, params)]


def _plan(fk: ForeignKeyRow, table: sql.Composable, target: sql.Composable) -> ForeignKeyPlan:
    """The key re-added on `table` (NOT VALID, validated later when the original was)."""
    if fk.sets_some_columns:
        raise CannotCarry(f"foreign key {fk.name} of {fk.child} sets only some columns on delete")
    add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(table, sql.Identifier(fk.name), fk_sql(fk, target))
    return ForeignKeyPlan(fk.name, table, add, fk.validated and fk.enforced)


def carry_foreign_keys(conn: psycopg.Connection, carry: Carry, in_set: dict[int, ShadowTable]) -> None:
    """The table's own foreign keys, onto its shadow: a parent in the set is referenced as its shadow."""
    shadow = carry.plan.typed
    for fk in _fk_rows(conn, "con.conrelid = %s", [carry.plan.table.oid]):
        target = (
            in_set[fk.parent_oid].typed
            if fk.parent_oid in in_set
            else sql.SQL(catalog_rows(conn, "SELECT %s::regclass::text", [fk.parent_oid])[0][0])
        )
        carry.foreign_keys.append(_plan(fk, shadow, target))
        if fk.comment is not None:
            carry.finish.append(
                sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                    sql.Identifier(fk.name), shadow, sql.Literal(fk.comment)
                )
            )


def outside_foreign_keys(
    conn: psycopg.Connection, plans: list[ShadowTable], in_set: dict[int, ShadowTable]
) -> tuple[list[tuple[sql.Composable, str, ForeignKeyPlan]], list[sql.Composable]]:
    """Keys of tables outside the set that reference a table in it: re-pointed at the new table by name."""
    oids = [p.table.oid for p in plans]
    out: list[tuple[sql.Composable, str, ForeignKeyPlan]] = []
    children: dict[int, sql.Composable] = {}
    for fk in _fk_rows(conn, "con.confrelid = ANY(%s) AND NOT (con.conrelid = ANY(%s))", [oids, oids]):
        child = sql.SQL(fk.child)
        target = in_set[fk.parent_oid].table.ident  # by name: resolved after the new table is in place
        out.append((child, fk.name, _plan(fk, child, target)))
        children[fk.child_oid] = child
    return out, list(children.values())
