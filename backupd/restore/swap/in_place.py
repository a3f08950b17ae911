"""One attempt of the in-place swap: the live tables keep their identity, their rows are replaced.

A module of its own because it is the swap's second strategy (the fallback; the first is
`catalog.py`), with SQL of its own: the rows are deleted and inserted (or merged by primary key
where rows outside the set reference them), the application's triggers and rewrite rules are
disabled and put back to their exact states, and NOT VALID constraints are dropped and re-added around the load. The
package's `swap()` retries it while its locks are busy.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from ...db.catalog import ForeignKey, outside_references
from ...db.connection import one_row
from ...errors import RestoreError
from ..shadows import ShadowTable
from .outside import outside_dependants
from .sequences import raise_sequences

INSERT_BATCH_PAGES = 4096  # in-place: one INSERT per 32 MiB of shadow bounds the FK check queue


def in_place_once(conn: psycopg.Connection, plans: list[ShadowTable], lock_wait: float) -> float:
    lock_list = sql.SQL(", ").join(p.table.ident for p in plans)
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{round(lock_wait * 1000)}ms")))
            ruled = _ruled_tables(conn, plans)
            if ruled:  # PostgreSQL disables a rule only under ACCESS EXCLUSIVE (see _disable_rules)
                conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.SQL(", ").join(ruled)))
            conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(lock_list))
            locked = time.monotonic()
            _replace_rows(conn, plans)
    except psycopg.errors.ForeignKeyViolation as exc:
        detail = " ".join((exc.diag.message_detail or "").split())
        raise RestoreError(
            f"the archive breaks a foreign key: {exc.diag.message_primary or exc}" + (f" ({detail})" if detail else "")
        ) from exc
    return time.monotonic() - locked


def _replace_rows(conn: psycopg.Connection, plans: list[ShadowTable]) -> None:
    outside = outside_references(conn, [p.table for p in plans])
    outside_dependants(conn, plans, outside)
    merged = _merged_tables(plans, outside)
    replaced = [p for p in plans if p.table.oid not in merged]
    kept = [p for p in plans if p.table.oid in merged]  # parents first, like plans
    triggers = _user_triggers(conn, [p.table.oid for p in plans])
    disabled = _disable_user_triggers(conn, triggers)
    rules = _disable_rules(conn, [p.table.oid for p in plans])
    unvalidated = _drop_unvalidated_constraints(conn, [p.table.oid for p in plans])
    for plan in reversed(replaced):  # children first: nothing left for ON DELETE actions to find
        conn.execute(sql.SQL("DELETE FROM {}").format(plan.table.own_rows))
    for plan in kept:
        update = _update_sql(plan)
        if update is not None:
            conn.execute(update)
        conn.execute(_insert_sql(plan, only_new=True))
    for plan in reversed(kept):
        conn.execute(_delete_missing_sql(plan))
    for plan in replaced:
        pages = one_row(
            conn.execute(
                "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
                [plan.typed.as_string(conn)],
            )
        )[0]
        for first in range(0, max(pages, 1), INSERT_BATCH_PAGES):
            where = sql.SQL(" WHERE s.ctid >= {}::tid AND s.ctid < {}::tid").format(
                sql.Literal(f"({first},0)"), sql.Literal(f"({first + INSERT_BATCH_PAGES},0)")
            )
            conn.execute(_insert_sql(plan, only_new=False) + where)
    for plan in plans:
        count = one_row(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(plan.table.own_rows)))[0]
        if count != plan.count:
            raise RestoreError(f"{plan.key}: {count} rows after the swap, the archive has {plan.count}")
    for statement in unvalidated:
        conn.execute(statement)
    for plan in plans:
        raise_sequences(conn, plan, {})
    _restore_user_triggers(conn, triggers, disabled)
    if rules:
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses pending trigger events
    for statement in rules:
        conn.execute(statement)


# pg_rewrite.ev_enabled → the ALTER TABLE action that puts a rule back in that state.
_RULE_STATES = {"O": "ENABLE RULE", "R": "ENABLE REPLICA RULE", "A": "ENABLE ALWAYS RULE"}
_ENABLED_RULES = """
SELECT r.ev_class::regclass::text, r.rulename, r.ev_enabled
FROM pg_rewrite r
WHERE r.ev_class = ANY(%s) AND r.rulename <> '_RETURN' AND r.ev_enabled <> 'D'
ORDER BY r.ev_class, r.rulename
"""


def _ruled_tables(conn: psycopg.Connection, plans: list[ShadowTable]) -> list[sql.Composable]:
    """The set's tables with an enabled rewrite rule (in the set's order)."""
    ruled = {row[0] for row in conn.execute(_ENABLED_RULES, [[p.table.oid for p in plans]])}
    return [p.table.ident for p in plans if p.table.oid in ruled]


def _disable_rules(conn: psycopg.Connection, oids: list[int]) -> list[sql.Composed]:
    """Disable the application's rewrite rules on the set's tables; return the statements that put
    each back in its state.

    A rule rewrites the swap's own DELETE, UPDATE and INSERT: `ON INSERT … DO ALSO UPDATE` would
    change restored rows, `DO ALSO INSERT INTO audit …` would add rows outside the set. Like the
    triggers, no rule may act on restored rows. Transactional: other sessions never see a rule
    disabled; the price is ACCESS EXCLUSIVE on these tables (taken with the swap's locks) for the
    swap's duration, since PostgreSQL changes a rule only under that lock.
    """
    restore: list[sql.Composed] = []
    for rel, name, state in conn.execute(_ENABLED_RULES, [oids]).fetchall():
        conn.execute(sql.SQL("ALTER TABLE ONLY {} DISABLE RULE {}").format(sql.SQL(rel), sql.Identifier(name)))
        restore.append(
            sql.SQL("ALTER TABLE ONLY {} {} {}").format(
                sql.SQL(rel), sql.SQL(_RULE_STATES[state]), sql.Identifier(name)
            )
        )
    return restore


def _drop_unvalidated_constraints(conn: psycopg.Connection, oids: list[int]) -> list[sql.Composed]:
    """Drop the set's NOT VALID constraints (CHECK, foreign key, PostgreSQL 18's NOT NULL); return
    the statements that add them back, NOT VALID again, with their comments.

    Such a constraint exists to let old rows break it: the archive holds those rows, and an INSERT
    would check them. Dropped and re-added in the swap's transaction, the constraint is the same
    to every other session (same name, definition and validity), at the cost of ACCESS EXCLUSIVE
    for the swap's milliseconds on these tables only.
    """
    rows = conn.execute(
        "SELECT k.conrelid::regclass::text, k.conname, pg_get_constraintdef(k.oid),"
        " obj_description(k.oid, 'pg_constraint')"
        " FROM pg_constraint k WHERE k.conrelid = ANY(%s) AND NOT k.convalidated AND k.contype IN ('c', 'f', 'n')"
        " AND k.conislocal ORDER BY k.conrelid, k.conname",
        [oids],
    ).fetchall()
    add_back: list[sql.Composed] = []
    for relation, name, definition, comment in rows:
        table, constraint = sql.SQL(relation), sql.Identifier(name)
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, constraint))
        add_back.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(table, constraint, sql.SQL(definition)))
        if comment is not None:
            add_back.append(
                sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(constraint, table, sql.Literal(comment))
            )
    return add_back


# pg_trigger.tgenabled → the ALTER TABLE action that sets it.
_TRIGGER_STATES = {
    "O": "ENABLE TRIGGER",
    "D": "DISABLE TRIGGER",
    "R": "ENABLE REPLICA TRIGGER",
    "A": "ENABLE ALWAYS TRIGGER",
}

# The application's triggers on the set's tables and on their partitions (rows routed there fire
# those), parents first: (relation, trigger, tgenabled). Internal ones (foreign keys, deferrable
# unique constraints) are not listed: they stay on.
_USER_TRIGGERS = """
SELECT t.tgrelid::regclass::text, t.tgname, t.tgenabled
FROM pg_trigger t
JOIN (SELECT relid, min(level) AS level
      FROM (SELECT s.oid AS relid, 0 AS level FROM unnest(%(oids)s::oid[]) AS s(oid)
            UNION ALL
            SELECT p.relid, p.level FROM unnest(%(oids)s::oid[]) AS s(oid), pg_partition_tree(s.oid) AS p) AS tree
      GROUP BY relid) AS r ON r.relid = t.tgrelid
WHERE NOT t.tgisinternal
ORDER BY r.level, t.tgrelid, t.tgname
"""


def _user_triggers(conn: psycopg.Connection, oids: list[int]) -> list[tuple[str, str, str]]:
    return [(rel, name, state) for rel, name, state in conn.execute(_USER_TRIGGERS, {"oids": oids})]


def _disable_user_triggers(conn: psycopg.Connection, triggers: list[tuple[str, str, str]]) -> list[str]:
    """No trigger of the application may fire on restored rows (docs/operations.md). Transactional:
    other sessions never see them disabled. Returns the relations it changed."""
    relations = list(dict.fromkeys(rel for rel, _, state in triggers if state != "D"))
    for rel in relations:
        conn.execute(sql.SQL("ALTER TABLE ONLY {} DISABLE TRIGGER USER").format(sql.SQL(rel)))
    return relations


def _restore_user_triggers(
    conn: psycopg.Connection, triggers: list[tuple[str, str, str]], relations: list[str]
) -> None:
    """Every trigger of those relations back to its recorded state, before COMMIT."""
    if not relations:
        return
    # ALTER TABLE refuses a table with pending trigger events: run the deferred (internal)
    # constraint checks of the loaded rows now, as COMMIT would have.
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for rel, name, state in triggers:
        if rel in relations:
            conn.execute(
                sql.SQL("ALTER TABLE ONLY {} {} {}").format(
                    sql.SQL(rel), sql.SQL(_TRIGGER_STATES[state]), sql.Identifier(name)
                )
            )


def _merged_tables(plans: list[ShadowTable], outside: list[ForeignKey]) -> set[int]:
    """Tables whose rows cannot all be deleted: referenced from outside the set (the deletes would
    cascade to, or be refused by, rows outside it), and (transitively) every table of the set they
    reference, for the same reason. These are merged by primary key instead."""
    in_set = {p.table.oid: p.table for p in plans}
    merged = {fk.ref_table_oid for fk in outside}
    todo = list(merged)
    while todo:
        table = in_set[todo.pop()]
        for fk in table.foreign_keys:
            if fk.ref_table_oid in in_set and fk.ref_table_oid not in merged:
                merged.add(fk.ref_table_oid)
                todo.append(fk.ref_table_oid)
    for oid in merged:
        if not in_set[oid].primary_key:
            raise RestoreError(
                f"cannot restore {in_set[oid].key}: rows of other tables depend on it and it has no primary key"
            )
    return merged


def _insert_sql(plan: ShadowTable, only_new: bool) -> sql.Composed:
    cols = plan.table.insertable_columns
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in cols)
    values = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c.name)) for c in cols)
    overriding = sql.SQL(" OVERRIDING SYSTEM VALUE") if any(c.identity == "a" for c in cols) else sql.SQL("")
    query = sql.SQL("INSERT INTO {} ({}){} SELECT {} FROM {} AS s").format(
        plan.table.ident, names, overriding, values, plan.typed
    )
    if only_new:
        query += sql.SQL(" WHERE NOT EXISTS (SELECT 1 FROM {} AS l WHERE {})").format(
            plan.table.own_rows, _pk_match(plan)
        )
    return query


def _pk_match(plan: ShadowTable) -> sql.Composable:
    return sql.SQL(" AND ").join(sql.SQL("l.{0} = s.{0}").format(sql.Identifier(k)) for k in plan.table.primary_key)


def _update_sql(plan: ShadowTable) -> sql.Composed | None:
    """Rewrite only rows whose text differs (exact, also for json, -0 and NaN)."""
    cols = [c for c in plan.table.insertable_columns if c.name not in plan.table.primary_key]
    if not cols:
        return None
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in cols)
    new = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c.name)) for c in cols)
    old = sql.SQL(", ").join(sql.SQL("l.{}").format(sql.Identifier(c.name)) for c in cols)
    return sql.SQL(
        "UPDATE {t} AS l SET ({names}) = ROW({new}) FROM {typed} AS s"
        " WHERE {match} AND ROW({old})::text IS DISTINCT FROM ROW({new})::text"
    ).format(t=plan.table.own_rows, names=names, new=new, typed=plan.typed, match=_pk_match(plan), old=old)


def _delete_missing_sql(plan: ShadowTable) -> sql.Composed:
    return sql.SQL("DELETE FROM {} AS l WHERE NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
        plan.table.own_rows, plan.typed, _pk_match(plan)
    )
