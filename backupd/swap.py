"""The swap: the one transaction that puts the archive's rows in place of the live ones.

Catalog swap (the normal case): the shadow tables are complete (rows, indexes, constraints,
triggers, grants, …; `shadow.py`), so the swap only moves the live tables aside and the shadows
in (`ALTER TABLE … SET SCHEMA`), re-points what depends on them (views, foreign keys from other
tables, owned sequences, publications), raises the sequences and drops the old tables, all
under ACCESS EXCLUSIVE for milliseconds, whatever the tables' size. Each attempt waits at most
LOCK_WAIT seconds for its locks (below the server's 1 s deadlock check, so a reader or writer
that deadlocks with it is never the one cancelled; they wait at most that long), and is retried
with random back-off. Readers never see a mix: the swap cannot lock a table that an open
transaction has read, and it refuses to swap while a transaction whose snapshot is older than
the load is open (it would see the new tables empty).

In-place swap (the fallback): lock the live tables in EXCLUSIVE mode (writers wait, readers do
not), DELETE the old rows and INSERT the shadow's; tables referenced from outside the set are
merged by primary key. It keeps the live tables and so everything attached to them; their user
triggers are disabled while the rows change and put back to their exact states before COMMIT, so
none of the application's triggers fires on restored rows (CONTRACT §13). It is used
when the shadows cannot carry something (`shadow.CannotCarry`), when the catalog swap fails for
a reason other than a busy lock, and when only readers keep it from its locks for long (a
transaction idle with a table open, or READER_PATIENCE of busy readers).

Either way: the database is unchanged until COMMIT, and "tables are busy" after the deadline.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from .catalog import ForeignKey, outside_references
from .errors import RestoreError
from .shadow import SetCarry
from .staging import StagedTable, old_schema

# Catalog swap: per-attempt lock wait (doubling from the first), and how long busy readers may
# keep it from its locks before the in-place swap (which readers do not block) takes over.
FIRST_LOCK_WAIT, LOCK_WAIT = 0.1, 0.9
READER_PATIENCE = 30.0
OLD_SNAPSHOT_PATIENCE = 5.0
# In-place swap: EXCLUSIVE does not queue readers, so it may wait past the deadlock check (which
# also cancels an autovacuum in its way).
FIRST_ATTEMPT_LOCK_TIMEOUT, MAX_ATTEMPT_LOCK_TIMEOUT = 0.2, 2.0
BACKOFF, MAX_BACKOFF = 0.05, 1.0
INSERT_BATCH_PAGES = 4096  # in-place: one INSERT per 32 MiB of shadow bounds the FK check queue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SwapOutcome:
    lock_seconds: float  # how long the successful attempt held its locks
    mode: str  # "catalog" | "in place"
    fallback_reason: str | None = None


class _Fallback(Exception):
    """The catalog swap cannot be done; the message says why."""


class _OldSnapshot(Exception):
    pass


class _DroppedOnTrial(Exception):
    """Rolls back the savepoint of the trial DROP."""


def swap(conn: psycopg.Connection, plans: list[StagedTable], carry: SetCarry | None, reason: str | None,
         lock_timeout: str | float, loaded_xid: str) -> SwapOutcome:
    deadline = seconds(lock_timeout)
    started = time.monotonic()
    if carry is not None:
        readers_since = old_since = None  # when readers (or an old snapshot) first stood in the way
        attempt = 0
        deadlock_check = conn.execute(
            "SELECT extract(epoch FROM current_setting('deadlock_timeout')::interval)").fetchone()[0]
        most = min(LOCK_WAIT, 0.9 * float(deadlock_check))
        while True:
            wait = min(FIRST_LOCK_WAIT * 2 ** attempt, most, _left(started, deadline, most))
            tried = time.monotonic()
            try:
                return SwapOutcome(_catalog_once(conn, plans, carry, wait, loaded_xid), "catalog")
            except _Fallback as exc:
                reason = str(exc)
                break
            except _OldSnapshot as exc:
                old_since = old_since or tried
                if time.monotonic() - old_since > OLD_SNAPSHOT_PATIENCE:
                    reason = str(exc)
                    break
                _busy_unless_time_left(started, deadline, lock_timeout, exc)
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
                holders = _lock_holders(conn, plans, carry)
                if holders.startswith("idle"):
                    reason = holders
                    break
                if holders.startswith("readers"):
                    readers_since = readers_since or tried
                    if time.monotonic() - readers_since > READER_PATIENCE:
                        reason = f"{holders} for {READER_PATIENCE:g}s"
                        break
                _busy_unless_time_left(started, deadline, lock_timeout, exc)
            attempt += 1
            _back_off(attempt)
        log.info("swapping in place: %s", reason)
    return _swap_in_place(conn, plans, lock_timeout, started, reason)


def _left(started: float, deadline: float, default: float) -> float:
    return max(0.01, started + deadline - time.monotonic()) if deadline > 0 else default


def _busy_unless_time_left(started: float, deadline: float, lock_timeout: str | float, exc: Exception) -> None:
    if deadline > 0 and time.monotonic() + BACKOFF >= started + deadline:
        raise RestoreError(f"tables are busy: could not lock them within {_duration_text(lock_timeout)}") from exc


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0.005, min(MAX_BACKOFF, BACKOFF * 2 ** attempt)))


def _lock_holders(conn: psycopg.Connection, plans: list[StagedTable], carry: SetCarry) -> str:
    """Who holds locks on the set now: 'writers', 'idle …' (a reader idle in its transaction),
    'readers …' or ''."""
    rows = conn.execute(
        "SELECT l.mode, a.state, now() - a.state_change > interval '1 second', l.relation::regclass::text"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'relation' AND l.granted AND l.relation = ANY(%s) AND l.pid <> pg_backend_pid()",
        [[p.table.oid for p in plans]]).fetchall()
    if any(mode != "AccessShareLock" for mode, *_ in rows):
        return "writers"
    idle = [table for _, state, long, table in rows if state and state.startswith("idle in transaction") and long]
    if idle:
        return f"idle: a session idle in its transaction has {idle[0]} open"
    return f"readers kept {rows[0][3]} busy" if rows else ""


# --------------------------------------------------------------------------------------------
# Catalog swap


def _catalog_once(conn: psycopg.Connection, plans: list[StagedTable], carry: SetCarry, lock_wait: float,
                  loaded_xid: str) -> float:
    """One attempt. Readers that queue behind the ACCESS EXCLUSIVE locks this attempt holds start
    waiting after it began; all of its own lock waits end within `lock_wait` of its start, before
    any such reader's deadlock check (deadlock_timeout after it began waiting) could pick the
    reader as the victim of a cycle through us: the attempt gives up first, and the reader goes on."""
    lock_list = sql.SQL(", ").join([p.table.ident for p in plans] + [p.typed for p in plans]
                                   + carry.outside_children)
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
            _outside_dependants(conn, plans, outside_references(conn, [p.table for p in plans]))
            log.debug("swap: outside %.1fms", (time.monotonic() - locked) * 1000)
            _move(conn, plans, carry)
            log.debug("swap: moved %.1fms", (time.monotonic() - locked) * 1000)
        log.debug("swap: committed %.1fms", (time.monotonic() - locked) * 1000)
    except (RestoreError, _OldSnapshot, psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
        raise
    except psycopg.errors.QueryCanceled as exc:  # the LOCK statement ran out of its budget
        raise psycopg.errors.LockNotAvailable(str(exc)) from exc
    except psycopg.Error as exc:
        raise _Fallback(f"the catalog swap failed: {exc.diag.message_primary or exc}"
                        + (f" ({exc.diag.message_detail})" if exc.diag.message_detail else "")) from exc
    return time.monotonic() - locked


def _refuse_old_snapshots(conn: psycopg.Connection, loaded_xid: str) -> None:
    """A snapshot taken before the shadows were loaded would see the new tables empty."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()"
        " AND backend_type = 'client backend' AND backend_xmin IS NOT NULL"
        " AND age(backend_xmin) > age(%s::xid) LIMIT 1", [loaded_xid]).fetchone()
    if row is not None:
        raise _OldSnapshot(f"a transaction older than the restore's load is open (pid {row[0]})")


def _move(conn: psycopg.Connection, plans: list[StagedTable], carry: SetCarry) -> None:
    run = conn.execute
    for child, name, _ in carry.outside_fks:
        run(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(child, sql.Identifier(name)))
    identity_values: dict[tuple[int, str], int] = {}
    for t in carry.tables:
        for seq, _ in t.serial_sequences:
            run(sql.SQL("ALTER SEQUENCE {} OWNED BY NONE").format(sql.SQL(seq)))
        for column, _ in t.identity_columns:
            identity_values[(t.plan.index, column)] = run(sql.SQL(
                "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {}").format(
                sql.SQL(_serial_sequence(conn, t.plan, column)))).fetchone()[0]
    for t in carry.tables:
        live, schema = t.plan.table.ident, sql.Identifier(t.plan.table.schema)
        run(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(live, sql.Identifier(old_schema(t.plan.schema_index))))
        run(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(t.plan.typed, schema))
        if t.swap_options is not None:
            run(t.swap_options)
    for t in carry.tables:
        for old, staged, schema in t.statistics:
            run(sql.SQL("DROP STATISTICS {}").format(sql.SQL(old)))
            run(sql.SQL("ALTER STATISTICS {} SET SCHEMA {}").format(staged, sql.Identifier(schema)))
        for column, old_name in t.identity_columns:
            new_seq = _serial_sequence(conn, t.plan, column)
            if run("SELECT relname FROM pg_class WHERE oid = %s::regclass", [new_seq]).fetchone()[0] != old_name:
                run(sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(sql.SQL(new_seq), sql.Identifier(old_name)))
        for seq, column in t.serial_sequences:
            run(sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                sql.SQL(seq), sql.Identifier(t.plan.table.schema, t.plan.table.name, column)))
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


def _serial_sequence(conn: psycopg.Connection, plan: StagedTable, column: str) -> str:
    return conn.execute("SELECT pg_get_serial_sequence(%s, %s)",
                        [plan.table.ident.as_string(conn), column]).fetchone()[0]


# --------------------------------------------------------------------------------------------
# In-place swap


def _swap_in_place(conn: psycopg.Connection, plans: list[StagedTable], lock_timeout: str | float,
                   started: float, reason: str | None) -> SwapOutcome:
    deadline = seconds(lock_timeout)
    attempt = 0
    while True:
        wait = min(FIRST_ATTEMPT_LOCK_TIMEOUT * 2 ** attempt, MAX_ATTEMPT_LOCK_TIMEOUT,
                   _left(started, deadline, MAX_ATTEMPT_LOCK_TIMEOUT))
        try:
            return SwapOutcome(_in_place_once(conn, plans, wait), "in place", reason)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
            _busy_unless_time_left(started, deadline, lock_timeout, exc)
            attempt += 1
            log.debug("swap attempt %d: %s", attempt, exc.diag.message_primary or exc)
            _back_off(attempt)


def _in_place_once(conn: psycopg.Connection, plans: list[StagedTable], lock_wait: float) -> float:
    lock_list = sql.SQL(", ").join(p.table.ident for p in plans)
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{round(lock_wait * 1000)}ms")))
            conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(lock_list))
            locked = time.monotonic()
            _replace_rows(conn, plans)
    except psycopg.errors.ForeignKeyViolation as exc:
        detail = " ".join((exc.diag.message_detail or "").split())
        raise RestoreError(f"the archive breaks a foreign key: {exc.diag.message_primary or exc}"
                           + (f" ({detail})" if detail else "")) from exc
    return time.monotonic() - locked


def _replace_rows(conn: psycopg.Connection, plans: list[StagedTable]) -> None:
    outside = outside_references(conn, [p.table for p in plans])
    _outside_dependants(conn, plans, outside)
    merged = _merged_tables(plans, outside)
    replaced = [p for p in plans if p.table.oid not in merged]
    kept = [p for p in plans if p.table.oid in merged]  # parents first, like plans
    triggers = _user_triggers(conn, [p.table.oid for p in plans])
    disabled = _disable_user_triggers(conn, triggers)
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
        pages = conn.execute("SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
                             [plan.typed.as_string(conn)]).fetchone()[0]
        for first in range(0, max(pages, 1), INSERT_BATCH_PAGES):
            where = sql.SQL(" WHERE s.ctid >= {}::tid AND s.ctid < {}::tid").format(
                sql.Literal(f"({first},0)"), sql.Literal(f"({first + INSERT_BATCH_PAGES},0)"))
            conn.execute(_insert_sql(plan, only_new=False) + where)
    for plan in plans:
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(plan.table.own_rows)).fetchone()[0]
        if count != plan.count:
            raise RestoreError(f"{plan.key}: {count} rows after the swap, the archive has {plan.count}")
    for statement in unvalidated:
        conn.execute(statement)
    for plan in plans:
        raise_sequences(conn, plan, {})
    _restore_user_triggers(conn, triggers, disabled)


def _drop_unvalidated_constraints(conn: psycopg.Connection, oids: list[int]) -> list[sql.Composable]:
    """Drop the set's NOT VALID constraints (CHECK, foreign key, PostgreSQL 18's NOT NULL); return
    the statements that add them back, NOT VALID again, with their comments.

    Such a constraint exists to let old rows break it: the archive holds those rows, and an INSERT
    would check them. Dropped and re-added in the swap's transaction, the constraint is the same
    to every other session (same name, definition and validity), at the cost of ACCESS EXCLUSIVE
    for the swap's milliseconds on these tables only.
    """
    rows = conn.execute(
        "SELECT k.conrelid::regclass::text, k.conname, pg_get_constraintdef(k.oid), obj_description(k.oid, 'pg_constraint')"
        " FROM pg_constraint k WHERE k.conrelid = ANY(%s) AND NOT k.convalidated AND k.contype IN ('c', 'f', 'n')"
        " AND k.conislocal ORDER BY k.conrelid, k.conname", [oids]).fetchall()
    add_back: list[sql.Composable] = []
    for relation, name, definition, comment in rows:
        table, constraint = sql.SQL(relation), sql.Identifier(name)
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, constraint))
        add_back.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(table, constraint, sql.SQL(definition)))
        if comment is not None:
            add_back.append(sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(constraint, table, sql.Literal(comment)))
    return add_back


# pg_trigger.tgenabled → the ALTER TABLE action that sets it.
_TRIGGER_STATES = {"O": "ENABLE TRIGGER", "D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER",
                   "A": "ENABLE ALWAYS TRIGGER"}

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
    """No trigger of the application may fire on restored rows (CONTRACT §13). Transactional:
    other sessions never see them disabled. Returns the relations it changed."""
    relations = list(dict.fromkeys(rel for rel, _, state in triggers if state != "D"))
    for rel in relations:
        conn.execute(sql.SQL("ALTER TABLE ONLY {} DISABLE TRIGGER USER").format(sql.SQL(rel)))
    return relations


def _restore_user_triggers(conn: psycopg.Connection, triggers: list[tuple[str, str, str]],
                           relations: list[str]) -> None:
    """Every trigger of those relations back to its recorded state, before COMMIT."""
    if not relations:
        return
    # ALTER TABLE refuses a table with pending trigger events: run the deferred (internal)
    # constraint checks of the loaded rows now, as COMMIT would have.
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for rel, name, state in triggers:
        if rel in relations:
            conn.execute(sql.SQL("ALTER TABLE ONLY {} {} {}").format(
                sql.SQL(rel), sql.SQL(_TRIGGER_STATES[state]), sql.Identifier(name)))


def _merged_tables(plans: list[StagedTable], outside: list[ForeignKey]) -> set[int]:
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


def _outside_dependants(conn: psycopg.Connection, plans: list[StagedTable], outside: list[ForeignKey]) -> None:
    """Refuse when rows outside the set would lose their parent (checked under the swap's lock)."""
    by_oid = {p.table.oid: p for p in plans}
    by_child: dict[int, list[ForeignKey]] = {}
    for fk in outside:
        by_child.setdefault(fk.table_oid, []).append(fk)
    problems: list[str] = []
    for fks in by_child.values():
        lost = [_lost_parent(fk, by_oid[fk.ref_table_oid]) for fk in fks]
        query = sql.SQL("SELECT count(*) FROM ONLY {} AS c WHERE {}").format(
            sql.SQL(fks[0].table), sql.SQL(" OR ").join(lost))
        count = conn.execute(query).fetchone()[0]
        if count:
            parents = ", ".join(sorted({by_oid[fk.ref_table_oid].key for fk in fks}))
            problems.append(f"{count} rows of {fks[0].table} (they reference {parents} rows missing from the backup)")
    if problems:
        raise RestoreError("the restore would delete or orphan " + "; ".join(problems) + "; nothing was changed")


def _lost_parent(fk: ForeignKey, parent: StagedTable) -> sql.Composable:
    """Condition on child row c: it references a parent row that will not survive the restore
    (the archive has no row with the same primary key and the same referenced values)."""
    not_null = sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in fk.columns)
    pk = list(parent.table.primary_key)
    if list(fk.ref_columns) == pk or sorted(fk.ref_columns) == sorted(pk):
        match = sql.SQL(" AND ").join(
            sql.SQL("s.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for c, r in zip(fk.columns, fk.ref_columns))
        exists = sql.SQL("SELECT 1 FROM {} AS s WHERE {}").format(parent.typed, match)
    else:
        match = sql.SQL(" AND ").join(
            sql.SQL("p.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for c, r in zip(fk.columns, fk.ref_columns))
        same = sql.SQL(" AND ").join(
            sql.SQL("s.{0} = p.{0}").format(sql.Identifier(k)) for k in dict.fromkeys(pk + list(fk.ref_columns)))
        exists = sql.SQL("SELECT 1 FROM {} AS p JOIN {} AS s ON {} WHERE {}").format(
            parent.table.own_rows, parent.typed, same, match)
    return sql.SQL("({} AND NOT EXISTS ({}))").format(not_null, exists)


def _insert_sql(plan: StagedTable, only_new: bool) -> sql.Composed:
    cols = plan.table.insertable_columns
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in cols)
    values = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c.name)) for c in cols)
    overriding = sql.SQL(" OVERRIDING SYSTEM VALUE") if any(c.identity == "a" for c in cols) else sql.SQL("")
    query = sql.SQL("INSERT INTO {} ({}){} SELECT {} FROM {} AS s").format(
        plan.table.ident, names, overriding, values, plan.typed)
    if only_new:
        query += sql.SQL(" WHERE NOT EXISTS (SELECT 1 FROM {} AS l WHERE {})").format(
            plan.table.own_rows, _pk_match(plan))
    return query


def _pk_match(plan: StagedTable) -> sql.Composable:
    return sql.SQL(" AND ").join(sql.SQL("l.{0} = s.{0}").format(sql.Identifier(k)) for k in plan.table.primary_key)


def _update_sql(plan: StagedTable) -> sql.Composed | None:
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


def _delete_missing_sql(plan: StagedTable) -> sql.Composed:
    return sql.SQL("DELETE FROM {} AS l WHERE NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
        plan.table.own_rows, plan.typed, _pk_match(plan))


def raise_sequences(conn: psycopg.Connection, plan: StagedTable, floors: dict[str, int]) -> None:
    """Move each serial/identity sequence past the restored ids, the archived value and `floors`
    (an identity column's old sequence); never down (setval is not transactional, so lowering one
    could collide after a rollback)."""
    for link in plan.table.sequences:
        seq = sql.SQL(_serial_sequence(conn, plan, link.column) or link.sequence)
        floor = max(plan.sequences.get(link.column) or 0, floors.get(link.column) or 0)
        conn.execute(sql.SQL(
            "SELECT setval({lit}::regclass, target, true) FROM ("
            " SELECT GREATEST(COALESCE((SELECT max({col}) FROM {t}), 0), {floor}) AS target,"
            "        CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS current"
            " FROM {seq}) AS v WHERE target > current"
        ).format(lit=sql.Literal(seq.as_string(conn)), col=sql.Identifier(link.column), t=plan.table.own_rows,
                 floor=sql.Literal(floor), seq=seq))


_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|min|h|d)?\s*")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(value: str | float) -> float:
    """A number of seconds, or a string in PostgreSQL's lock_timeout syntax ('60s', '500ms', '2min';
    a bare number means milliseconds, as there)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid lock_timeout {value!r}: use e.g. '60s' or '500ms'")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "ms"]


def _duration_text(value: str | float) -> str:
    return value.strip() if isinstance(value, str) else f"{value:g}s"
