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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from .shadows import StagedTable, staging_schema

_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_MATCH = {"f": "MATCH FULL", "p": "MATCH PARTIAL", "s": "MATCH SIMPLE"}
# Column options that some servers set on every new column by themselves (PostgreSQL 15.20 on
# this machine adds pg_attver): never copied, the shadow gets its own.
_SERVER_SET_OPTIONS = ("pg_attver=",)
_TRIGGER_STATE = {"D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}


class CannotCarry(Exception):
    """The catalog swap cannot reproduce something; the restore swaps in place instead."""


@dataclass
class ForeignKeyPlan:
    name: str
    table: sql.Composable  # the referencing table as it will be named when this runs
    add: sql.Composable  # ADD CONSTRAINT … NOT VALID
    validate: bool  # the constraint was valid: VALIDATE it (a scan, under a weak lock)


@dataclass
class Carry:
    """What it takes to turn one table's loaded shadow into a full replacement."""

    plan: StagedTable
    create: sql.Composable = field(default_factory=lambda: sql.SQL(""))
    indexes: list[sql.Composable] = field(default_factory=list)  # independent: built in parallel
    key_index: sql.Composable | None = None  # the one of `indexes` behind the primary key
    constraints: list[sql.Composable] = field(default_factory=list)  # after the indexes, in order
    foreign_keys: list[ForeignKeyPlan] = field(default_factory=list)  # after every table's keys
    finish: list[sql.Composable] = field(default_factory=list)  # triggers, policies, grants, …
    swap_options: sql.Composable | None = None  # undo the load-time autovacuum switch-off
    serial_sequences: list[tuple[str, str]] = field(default_factory=list)  # (sequence regclass, column)
    identity_columns: list[tuple[str, str]] = field(default_factory=list)  # (column, old sequence name)
    publications: list[str] = field(default_factory=list)
    statistics: list[tuple[str, sql.Composable, str]] = field(default_factory=list)  # (old, shadow's, schema)


@dataclass
class SetCarry:
    """The set's carry plus the dependants outside it that the swap re-points."""

    tables: list[Carry]
    views: list[sql.Composable]  # CREATE OR REPLACE VIEW …, run after the new tables are in place
    outside_fks: list[tuple[sql.Composable, str, ForeignKeyPlan]]  # (child, constraint, re-add plan)
    outside_children: list[sql.Composable]


def plan_carry(conn: psycopg.Connection, plans: list[StagedTable]) -> SetCarry:
    """Read what each live table has; raises CannotCarry naming the first thing it cannot carry."""
    in_set = {p.table.oid: p for p in plans}
    tables = [_table_carry(conn, p, in_set) for p in plans]
    views = _views(conn, plans)
    outside, children = _outside_foreign_keys(conn, plans, in_set)
    return SetCarry(tables, views, outside, children)


def _q(conn: psycopg.Connection, query: str, params: list[object]) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def _table_carry(conn: psycopg.Connection, plan: StagedTable, in_set: dict[int, StagedTable]) -> Carry:
    oid, live, shadow = plan.table.oid, plan.table.ident, plan.typed
    key = plan.key
    (persistence, reloptions, toast_options, tablespace, owner, acl, rls, force_rls, replident, inherits,
     oftype, comment, labels) = _q(conn, """
        SELECT c.relpersistence, c.reloptions, t.reloptions, c.reltablespace, pg_get_userbyid(c.relowner),
               c.relacl::text[], c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
               EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid OR inhparent = c.oid),
               c.reloftype <> 0, obj_description(c.oid, 'pg_class'),
               EXISTS (SELECT 1 FROM pg_seclabel WHERE objoid = c.oid AND classoid = 'pg_class'::regclass)
        FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = %s""", [oid])[0]
    if plan.table.partitioned or inherits:
        raise CannotCarry(f"{key} is part of an inheritance or partition tree")
    if oftype:
        raise CannotCarry(f"{key} is a typed table")
    if tablespace:
        raise CannotCarry(f"{key} is in a non-default tablespace")
    if labels:
        raise CannotCarry(f"{key} has security labels")
    _check_dependants(conn, plan)
    carry = Carry(plan)

    options = [o for o in (reloptions or []) if not o.startswith("autovacuum_enabled=")]
    toast = [f"toast.{o}" for o in (toast_options or []) if not o.startswith("autovacuum_enabled=")]
    load_options = options + toast + ["autovacuum_enabled=false"] + (["toast.autovacuum_enabled=false"])
    carry.create = sql.SQL(
        "CREATE {unlogged}TABLE {shadow} (LIKE {live} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        " INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS{compression}"
        ") WITH ({options})"
    ).format(unlogged=sql.SQL("UNLOGGED " if persistence == "u" else ""), shadow=shadow, live=live,
             compression=sql.SQL(" INCLUDING COMPRESSION" if conn.info.server_version >= 140000 else ""),
             options=sql.SQL(", ").join(sql.SQL(o) for o in _option_list(load_options)))
    relax = relax_unvalidated(conn, oid, shadow)
    if relax:
        carry.create = sql.Composed(_semicolons([carry.create, *relax]))
    _readd_unvalidated(conn, carry, shadow)
    # What autovacuum_enabled said on the live table (and its TOAST table), put back in the swap.
    restore = [o for o in (reloptions or []) if o.startswith("autovacuum_enabled=")]
    restore += [f"toast.{o}" for o in (toast_options or []) if o.startswith("autovacuum_enabled=")]
    resets = [r for r in ("autovacuum_enabled", "toast.autovacuum_enabled")
              if not any(o.startswith(r + "=") for o in restore)]
    parts = []
    if restore:
        parts.append(sql.SQL("ALTER TABLE {} SET ({})").format(
            live, sql.SQL(", ").join(sql.SQL(o) for o in _option_list(restore))))
    parts.append(sql.SQL("ALTER TABLE {} RESET ({})").format(live, sql.SQL(", ").join(sql.SQL(r) for r in resets)))
    carry.swap_options = sql.Composed(_semicolons(parts))

    if owner != _q(conn, "SELECT current_user", [])[0][0]:
        carry.finish.append(sql.SQL("ALTER TABLE {} OWNER TO {}").format(shadow, sql.Identifier(owner)))
    _indexes(conn, carry, shadow)
    _foreign_keys(conn, carry, in_set)
    _triggers(conn, carry, shadow)
    _columns(conn, carry, shadow)
    _policies(conn, carry, shadow, rls, force_rls)
    if replident == "f":
        carry.finish.append(sql.SQL("ALTER TABLE {} REPLICA IDENTITY FULL").format(shadow))
    elif replident == "n":
        carry.finish.append(sql.SQL("ALTER TABLE {} REPLICA IDENTITY NOTHING").format(shadow))
    if comment is not None:
        carry.finish.append(sql.SQL("COMMENT ON TABLE {} IS {}").format(shadow, sql.Literal(comment)))
    if acl is not None:
        carry.finish.extend(_grants(shadow, acl, owner, None))
    _sequences(conn, carry)
    _publications(conn, carry)
    _statistics(conn, carry, shadow)
    return carry


def _option_list(options: list[str]) -> list[str]:
    """reloptions as `name = 'value'` (values quoted: they may hold anything)."""
    out = []
    for option in options:
        name, _, value = option.partition("=")
        out.append(f"{sql.Identifier(*name.split('.')).as_string(None)} = {sql.Literal(value).as_string(None)}")
    return out


def _semicolons(parts: list[sql.Composable]) -> list[sql.Composable]:
    out: list[sql.Composable] = []
    for part in parts:
        if out:
            out.append(sql.SQL("; "))
        out.append(part)
    return out


def _check_dependants(conn: psycopg.Connection, plan: StagedTable) -> None:
    """Refuse anything that depends on the table (or its row type) and is not carried."""
    rows = _q(conn, """
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
        LIMIT 1""", [plan.table.oid, plan.table.oid, plan.table.oid, plan.table.oid])
    if rows:
        raise CannotCarry(f"{rows[0][0]} depends on {plan.key}")


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
    return _q(conn, f"""
        SELECT con.conname, pg_get_constraintdef(con.oid), obj_description(con.oid, 'pg_constraint')
        FROM pg_constraint con
        WHERE con.conrelid = %s AND con.contype IN {kinds} AND NOT con.convalidated AND {enforced}
        ORDER BY con.conname""", [oid])


def relax_unvalidated(conn: psycopg.Connection, oid: int, shadow: sql.Composable) -> list[sql.Composable]:
    """Statements that drop from a new LIKE-made shadow of table `oid` the constraints that are
    NOT VALID on the live table, so that every row the live table may hold loads (both swaps)."""
    return [sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(shadow, sql.Identifier(name))
            for name, _, _ in _unvalidated(conn, oid)]


def _readd_unvalidated(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    """Add the relaxed constraints back once the rows are in, NOT VALID as on the live table
    (pg_get_constraintdef ends in NOT VALID), with their comments."""
    for name, definition, comment in _unvalidated(conn, carry.plan.table.oid):
        if not definition.endswith(" NOT VALID"):
            raise CannotCarry(f"cannot rewrite the definition of constraint {name} of {carry.plan.key}")
        carry.constraints.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            shadow, sql.Identifier(name), sql.SQL(definition)))
        if comment is not None:
            carry.finish.append(sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                sql.Identifier(name), shadow, sql.Literal(comment)))


def _indexes(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    live_name = _qualified(conn, carry.plan)
    period = "COALESCE(con.conperiod, false)" if conn.info.server_version >= 180000 else "false"
    rows = _q(conn, f"""
        SELECT ic.relname, pg_get_indexdef(i.indexrelid), con.conname, con.contype, con.condeferrable,
               con.condeferred, pg_get_constraintdef(con.oid), i.indisclustered, i.indisreplident,
               i.indisvalid, ic.reltablespace, obj_description(i.indexrelid, 'pg_class'),
               obj_description(con.oid, 'pg_constraint'), {period}
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                                    AND con.contype IN ('p', 'u', 'x')
        WHERE i.indrelid = %s
        ORDER BY (SELECT amname FROM pg_am WHERE oid = ic.relam) = 'btree', NOT i.indisprimary,
                 pg_relation_size(i.indexrelid) DESC, ic.relname""", [carry.plan.table.oid])
    # The longest builds first (the last one ends sooner), but the primary key before other B-trees:
    # the comparison of the restore's changes waits for it.
    schema = staging_schema(carry.plan.schema_index)
    for (name, definition, conname, contype, deferrable, deferred, condef, clustered, replident, valid,
         tablespace, comment, con_comment, temporal) in rows:
        if not valid:
            raise CannotCarry(f"index {name} of {carry.plan.key} is not valid")
        if tablespace:
            raise CannotCarry(f"index {name} of {carry.plan.key} is in a non-default tablespace")
        index = sql.Identifier(schema, name)
        if contype == "x":
            carry.constraints.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                shadow, sql.Identifier(conname), sql.SQL(condef)))
        elif temporal:  # … WITHOUT OVERLAPS (18): its GiST index cannot be built on its own first
            carry.indexes.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                shadow, sql.Identifier(conname), sql.SQL(condef)))
            if contype == "p":
                carry.key_index = carry.indexes[-1]
        else:
            carry.indexes.append(sql.SQL(_retarget(definition, f" ON {live_name} USING ", f" ON {shadow.as_string(None)} USING ",
                                                   f"index {name} of {carry.plan.key}")))
            if contype == "p":
                carry.key_index = carry.indexes[-1]
        if contype in ("p", "u") and not temporal:
            kind = "PRIMARY KEY" if contype == "p" else "UNIQUE"
            timing = (" DEFERRABLE" + (" INITIALLY DEFERRED" if deferred else "")) if deferrable else ""
            carry.constraints.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}{}").format(
                shadow, sql.Identifier(conname), sql.SQL(kind), sql.Identifier(name), sql.SQL(timing)))
        if clustered:
            carry.finish.append(sql.SQL("ALTER TABLE {} CLUSTER ON {}").format(shadow, sql.Identifier(name)))
        if replident:
            carry.finish.append(sql.SQL("ALTER TABLE {} REPLICA IDENTITY USING INDEX {}").format(
                shadow, sql.Identifier(name)))
        if comment is not None:
            carry.finish.append(sql.SQL("COMMENT ON INDEX {} IS {}").format(index, sql.Literal(comment)))
        if con_comment is not None and conname:
            carry.finish.append(sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                sql.Identifier(conname), shadow, sql.Literal(con_comment)))


def _qualified(conn: psycopg.Connection, plan: StagedTable) -> str:
    """The live table's name as pg_get_indexdef/pg_get_triggerdef print it (always qualified)."""
    return _q(conn, "SELECT quote_ident(%s) || '.' || quote_ident(%s)", [plan.table.schema, plan.table.name])[0][0]


def _retarget(definition: str, old: str, new: str, what: str) -> str:
    if definition.count(old) != 1:
        raise CannotCarry(f"cannot rewrite the definition of {what}")
    return definition.replace(old, new)


def fk_sql(row: tuple, columns: list[str], target: sql.Composable, ref_columns: list[str], *,
           enforced: bool = True, period: bool = False) -> sql.Composable:
    """The FOREIGN KEY clause of a pg_constraint row (match, actions, timing), NOT VALID; or
    NOT ENFORCED for a key that is not enforced (18), which is never validated either. A temporal
    key (18) names its last column on both sides as a PERIOD."""

    def names(cols: list[str]) -> sql.Composable:
        parts = [sql.Identifier(c) for c in cols]
        if period:
            parts[-1] = sql.SQL("PERIOD {}").format(parts[-1])
        return sql.SQL(", ").join(parts)

    upd, dele, match, deferrable, deferred = row
    return sql.SQL("FOREIGN KEY ({}) REFERENCES {} ({}) {} ON UPDATE {} ON DELETE {}{} {}").format(
        names(columns), target, names(ref_columns), sql.SQL(_MATCH[match]),
        sql.SQL(_ACTIONS[upd]), sql.SQL(_ACTIONS[dele]),
        sql.SQL((" DEFERRABLE" + (" INITIALLY DEFERRED" if deferred else "")) if deferrable else ""),
        sql.SQL("NOT VALID" if enforced else "NOT ENFORCED"))


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


def _fk_rows(conn: psycopg.Connection, where: str, params: list[object]) -> list[tuple]:
    delset = "con.confdelsetcols IS NOT NULL" if conn.info.server_version >= 150000 else "false"
    new = conn.info.server_version >= 180000  # NOT ENFORCED and PERIOD foreign keys
    return _q(conn, _FK_ROWS.format(delset=delset, where=where, enforced="con.conenforced" if new else "true",
                                    period="COALESCE(con.conperiod, false)" if new else "false"), params)


def _foreign_keys(conn: psycopg.Connection, carry: Carry, in_set: dict[int, StagedTable]) -> None:
    shadow = carry.plan.typed
    for (name, _, ref_oid, upd, dele, match, deferrable, deferred, validated, delset, cols, ref_cols, _,
         comment, enforced, period) in _fk_rows(conn, "con.conrelid = %s", [carry.plan.table.oid]):
        if delset:
            raise CannotCarry(f"foreign key {name} of {carry.plan.key} sets only some columns on delete")
        target = in_set[ref_oid].typed if ref_oid in in_set else sql.SQL(
            _q(conn, "SELECT %s::regclass::text", [ref_oid])[0][0])
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            shadow, sql.Identifier(name), fk_sql((upd, dele, match, deferrable, deferred), cols, target, ref_cols,
                                                 enforced=enforced, period=period))
        carry.foreign_keys.append(ForeignKeyPlan(name, shadow, add, validated and enforced))
        if comment is not None:
            carry.finish.append(sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                sql.Identifier(name), shadow, sql.Literal(comment)))


def _triggers(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    rows = _q(conn, """
        SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled, t.tgconstraint <> 0,
               obj_description(t.oid, 'pg_trigger')
        FROM pg_trigger t WHERE t.tgrelid = %s AND NOT t.tgisinternal ORDER BY t.tgname""",
               [carry.plan.table.oid])
    live_name = _qualified(conn, carry.plan)
    for name, definition, enabled, constraint, comment in rows:
        if constraint:
            raise CannotCarry(f"constraint trigger {name} of {carry.plan.key}")
        carry.finish.append(sql.SQL(_retarget(definition, f" ON {live_name} ", f" ON {shadow.as_string(None)} ",
                                              f"trigger {name} of {carry.plan.key}")))
        if enabled in _TRIGGER_STATE:
            carry.finish.append(sql.SQL("ALTER TABLE {} {} {}").format(
                shadow, sql.SQL(_TRIGGER_STATE[enabled]), sql.Identifier(name)))
        if comment is not None:
            carry.finish.append(sql.SQL("COMMENT ON TRIGGER {} ON {} IS {}").format(
                sql.Identifier(name), shadow, sql.Literal(comment)))


def _columns(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    """Per-column statistics targets, options (n_distinct, …) and privileges."""
    target = "a.attstattarget" if conn.info.server_version < 170000 else "COALESCE(a.attstattarget, -1)"
    rows = _q(conn, f"""
        SELECT a.attname, {target}, a.attoptions, a.attacl::text[] FROM pg_attribute a
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
               [carry.plan.table.oid])
    owner = None
    for name, stat_target, options, acl in rows:
        col = sql.Identifier(name)
        if stat_target is not None and stat_target >= 0:
            carry.finish.append(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STATISTICS {}").format(
                shadow, col, sql.Literal(stat_target)))
        options = [o for o in options or () if not o.startswith(_SERVER_SET_OPTIONS)]
        if options:
            carry.finish.append(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET ({})").format(
                shadow, col, sql.SQL(", ").join(sql.SQL(o) for o in _option_list(options))))
        if acl:
            owner = owner or _q(conn, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = %s",
                                [carry.plan.table.oid])[0][0]
            carry.finish.extend(_grants(shadow, acl, owner, name))


def _grants(shadow: sql.Identifier, acl: list[str], owner: str, column: str | None) -> list[sql.Composable]:
    """GRANT statements that rebuild an ACL (aclitem text: grantee=privs/grantor)."""
    letters = {"a": "INSERT", "r": "SELECT", "w": "UPDATE", "d": "DELETE", "D": "TRUNCATE", "x": "REFERENCES",
               "t": "TRIGGER", "m": "MAINTAIN"}
    out: list[sql.Composable] = []
    if column is None:
        out.append(sql.SQL("REVOKE ALL ON {} FROM {}").format(shadow, sql.Identifier(owner)))
    on = sql.SQL("({}) ON {}").format(sql.Identifier(column), shadow) if column else sql.SQL("ON {}").format(shadow)
    for item in acl:
        grantee, _, rest = item.rpartition("=")
        privs, _, grantor = rest.partition("/")
        who = sql.SQL("PUBLIC") if grantee == "" else sql.Identifier(_unquote(grantee))
        if _unquote(grantor) != owner:  # a superuser's GRANT is recorded as the owner's
            raise CannotCarry(f"a privilege on {shadow.as_string(None)} was granted by {_unquote(grantor)}, not its owner")
        i = 0
        while i < len(privs):
            letter = privs[i]
            grantable = i + 1 < len(privs) and privs[i + 1] == "*"
            i += 2 if grantable else 1
            if letter not in letters:
                raise CannotCarry(f"unknown privilege {letter!r} on {shadow.as_string(None)}")
            out.append(sql.SQL("GRANT {} {} TO {}{}").format(
                sql.SQL(letters[letter]), on, who, sql.SQL(" WITH GRANT OPTION" if grantable else "")))
    return out


def _unquote(role: str) -> str:
    return role[1:-1].replace('""', '"') if role.startswith('"') else role


def _policies(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier, rls: bool, force: bool) -> None:
    rows = _q(conn, """
        SELECT p.polname, p.polpermissive, p.polcmd,
               ARRAY(SELECT CASE WHEN r = 0 THEN '' ELSE pg_get_userbyid(r) END FROM unnest(p.polroles) r),
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
        FROM pg_policy p WHERE p.polrelid = %s ORDER BY p.polname""", [carry.plan.table.oid])
    commands = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
    for name, permissive, cmd, roles, qual, check in rows:
        to = sql.SQL(", ").join(sql.SQL("PUBLIC") if r == "" else sql.Identifier(r) for r in roles)
        statement = sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(name), shadow, sql.SQL("PERMISSIVE" if permissive else "RESTRICTIVE"),
            sql.SQL(commands[cmd]), to)
        if qual is not None:
            statement += sql.SQL(" USING ({})").format(sql.SQL(qual))
        if check is not None:
            statement += sql.SQL(" WITH CHECK ({})").format(sql.SQL(check))
        carry.finish.append(statement)
    if rls:
        carry.finish.append(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(shadow))
    if force:
        carry.finish.append(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(shadow))


def _sequences(conn: psycopg.Connection, carry: Carry) -> None:
    """Serial sequences (OWNED BY a column) are kept and re-owned; identity sequences are new."""
    for column, sequence, deptype, name in _q(conn, """
            SELECT a.attname, d.objid::regclass::text, d.deptype, s.relname FROM pg_depend d
            JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.deptype IN ('a', 'i') AND d.refobjid = %s ORDER BY a.attnum""", [carry.plan.table.oid]):
        if deptype == "a":
            carry.serial_sequences.append((sequence, column))
        else:
            carry.identity_columns.append((column, name))


def _publications(conn: psycopg.Connection, carry: Carry) -> None:
    detail = "pr.prqual IS NOT NULL OR pr.prattrs IS NOT NULL" if conn.info.server_version >= 150000 else "false"
    for name, partial in _q(conn, f"""
            SELECT p.pubname, {detail} FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
            WHERE pr.prrelid = %s ORDER BY p.pubname""", [carry.plan.table.oid]):
        if partial:
            raise CannotCarry(f"publication {name} publishes only part of {carry.plan.key}")
        carry.publications.append(name)


def _statistics(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    """Extended statistics objects: built on the shadow in the staging schema (so ANALYZE fills
    them), moved to their own schema in the swap once the old ones are dropped."""
    staging = staging_schema(carry.plan.schema_index)
    names = [_qualified(conn, carry.plan), _q(conn, "SELECT quote_ident(%s)", [carry.plan.table.name])[0][0]]
    for name, schema, qualified, definition, target in _q(conn, """
            SELECT s.stxname, n.nspname, quote_ident(n.nspname) || '.' || quote_ident(s.stxname),
                   pg_get_statisticsobjdef(s.oid), COALESCE(s.stxstattarget, -1)
            FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
            WHERE s.stxrelid = %s ORDER BY s.stxname""", [carry.plan.table.oid]):
        staged = sql.Identifier(staging, name)
        head = f"CREATE STATISTICS {qualified} "
        tails = [f" FROM {n}" for n in names if definition.endswith(f" FROM {n}")]
        if not definition.startswith(head) or not tails:
            raise CannotCarry(f"cannot rewrite the definition of statistics {qualified}")
        body = definition[len(head):-len(tails[0])]
        carry.finish.append(sql.SQL("CREATE STATISTICS {} {} FROM {}").format(staged, sql.SQL(body), shadow))
        if target >= 0:  # ALTER STATISTICS … SET STATISTICS (NULL from 17 on, -1 before: the default)
            carry.finish.append(sql.SQL("ALTER STATISTICS {} SET STATISTICS {}").format(staged, sql.Literal(target)))
        carry.statistics.append((qualified, staged, schema))


def _views(conn: psycopg.Connection, plans: list[StagedTable]) -> list[sql.Composable]:
    """Views that read the set's tables, to be re-created over the new ones (same OID, same
    privileges: CREATE OR REPLACE). Definitions are read with this session's search_path, which
    is the one they are replayed with."""
    rows = _q(conn, """
        SELECT DISTINCT v.oid, v.oid::regclass::text, pg_get_viewdef(v.oid), v.reloptions
        FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
        JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY(%s) AND d.deptype = 'n'
          AND v.relkind = 'v' AND NOT (v.oid = ANY(%s))
        ORDER BY v.oid""", [[p.table.oid for p in plans], [p.table.oid for p in plans]])
    out: list[sql.Composable] = []
    for _, name, definition, options in rows:
        with_options = sql.SQL(" WITH ({})").format(
            sql.SQL(", ").join(sql.SQL(o) for o in _option_list(options))) if options else sql.SQL("")
        out.append(sql.SQL("CREATE OR REPLACE VIEW {}{} AS {}").format(
            sql.SQL(name), with_options, sql.SQL(definition.rstrip().rstrip(";"))))
    return out


def _outside_foreign_keys(conn: psycopg.Connection, plans: list[StagedTable], in_set: dict[int, StagedTable]
                          ) -> tuple[list[tuple[sql.Composable, str, ForeignKeyPlan]], list[sql.Composable]]:
    oids = [p.table.oid for p in plans]
    out = []
    children: dict[int, sql.Composable] = {}
    for (name, child_oid, ref_oid, upd, dele, match, deferrable, deferred, validated, delset, cols, ref_cols,
         child, _, enforced, period) in _fk_rows(conn, "con.confrelid = ANY(%s) AND NOT (con.conrelid = ANY(%s))",
                                                 [oids, oids]):
        if delset:
            raise CannotCarry(f"foreign key {name} of {child} sets only some columns on delete")
        target = in_set[ref_oid].table.ident  # by name: resolved after the new table is in place
        child_sql = sql.SQL(child)
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            child_sql, sql.Identifier(name), fk_sql((upd, dele, match, deferrable, deferred), cols, target, ref_cols,
                                                    enforced=enforced, period=period))
        out.append((child_sql, name, ForeignKeyPlan(name, child_sql, add, validated and enforced)))
        children[child_oid] = child_sql
    return out, list(children.values())
