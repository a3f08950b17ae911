"""Access and behaviour a shadow must carry: table and column privileges, row-level security
and its policies, triggers with their enabled state, and per-column statistics targets and options.

One module because all of it is replayed on the loaded shadow as `Carry.finish` statements and
none of it affects how the rows load or the keys build (`carry_keys.py`).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from .carry_base import CannotCarry, Carry, Statement, catalog_rows, option_list, qualified_name, retarget

# Column options that some servers set on every new column by themselves (PostgreSQL 15.20 on
# this machine adds pg_attver): never copied, the shadow gets its own.
_SERVER_SET_OPTIONS = ("pg_attver=",)
_TRIGGER_STATE = {"D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}


def carry_triggers(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    rows = catalog_rows(
        conn,
        """
        SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled, t.tgconstraint <> 0,
               obj_description(t.oid, 'pg_trigger')
        FROM pg_trigger t WHERE t.tgrelid = %s AND NOT t.tgisinternal ORDER BY t.tgname""",
        [carry.plan.table.oid],
    )
    live_name = qualified_name(conn, carry.plan)
    for name, definition, enabled, constraint, comment in rows:
        if constraint:
            raise CannotCarry(f"constraint trigger {name} of {carry.plan.key}")
        carry.finish.append(
            sql.SQL(
                retarget(
                    definition,
                    f" ON {live_name} ",
                    f" ON {shadow.as_string(None)} ",
                    f"trigger {name} of {carry.plan.key}",
                )
            )
        )
        if enabled in _TRIGGER_STATE:
            carry.finish.append(
                sql.SQL("ALTER TABLE {} {} {}").format(shadow, sql.SQL(_TRIGGER_STATE[enabled]), sql.Identifier(name))
            )
        if comment is not None:
            carry.finish.append(
                sql.SQL("COMMENT ON TRIGGER {} ON {} IS {}").format(sql.Identifier(name), shadow, sql.Literal(comment))
            )


def carry_columns(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier) -> None:
    """Per-column statistics targets, options (n_distinct, …) and privileges."""
    target = "a.attstattarget" if conn.info.server_version < 170000 else "COALESCE(a.attstattarget, -1)"
    rows = catalog_rows(
        conn,
        f"""
        SELECT a.attname, {target}, a.attoptions, a.attacl::text[] FROM pg_attribute a
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
        [carry.plan.table.oid],
    )
    owner = None
    for name, stat_target, options, acl in rows:
        col = sql.Identifier(name)
        if stat_target is not None and stat_target >= 0:
            carry.finish.append(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STATISTICS {}").format(
                    shadow, col, sql.Literal(stat_target)
                )
            )
        options = [o for o in options or () if not o.startswith(_SERVER_SET_OPTIONS)]
        if options:
            carry.finish.append(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET ({})").format(
                    shadow, col, sql.SQL(", ").join(sql.SQL(o) for o in option_list(options))
                )
            )
        if acl:
            owner = (
                owner
                or catalog_rows(
                    conn, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = %s", [carry.plan.table.oid]
                )[0][0]
            )
            carry.finish.extend(grants(shadow, acl, owner, name))


def grants(shadow: sql.Identifier, acl: list[str], owner: str, column: str | None) -> list[Statement]:
    """GRANT statements that rebuild an ACL (aclitem text: grantee=privs/grantor)."""
    letters = {
        "a": "INSERT",
        "r": "SELECT",
        "w": "UPDATE",
        "d": "DELETE",
        "D": "TRUNCATE",
        "x": "REFERENCES",
        "t": "TRIGGER",
        "m": "MAINTAIN",
    }
    out: list[Statement] = []
    if column is None:
        out.append(sql.SQL("REVOKE ALL ON {} FROM {}").format(shadow, sql.Identifier(owner)))
    on = sql.SQL("({}) ON {}").format(sql.Identifier(column), shadow) if column else sql.SQL("ON {}").format(shadow)
    for item in acl:
        grantee, _, rest = item.rpartition("=")
        privs, _, grantor = rest.partition("/")
        who = sql.SQL("PUBLIC") if grantee == "" else sql.Identifier(_unquote(grantee))
        if _unquote(grantor) != owner:  # a superuser's GRANT is recorded as the owner's
            raise CannotCarry(
                f"a privilege on {shadow.as_string(None)} was granted by {_unquote(grantor)}, not its owner"
            )
        i = 0
        while i < len(privs):
            letter = privs[i]
            grantable = i + 1 < len(privs) and privs[i + 1] == "*"
            i += 2 if grantable else 1
            if letter not in letters:
                raise CannotCarry(f"unknown privilege {letter!r} on {shadow.as_string(None)}")
            out.append(
                sql.SQL("GRANT {} {} TO {}{}").format(
                    sql.SQL(letters[letter]), on, who, sql.SQL(" WITH GRANT OPTION" if grantable else "")
                )
            )
    return out


def _unquote(role: str) -> str:
    return role[1:-1].replace('""', '"') if role.startswith('"') else role


def carry_policies(conn: psycopg.Connection, carry: Carry, shadow: sql.Identifier, rls: bool, force: bool) -> None:
    rows = catalog_rows(
        conn,
        """
        SELECT p.polname, p.polpermissive, p.polcmd,
               ARRAY(SELECT CASE WHEN r = 0 THEN '' ELSE pg_get_userbyid(r) END FROM unnest(p.polroles) r),
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
        FROM pg_policy p WHERE p.polrelid = %s ORDER BY p.polname""",
        [carry.plan.table.oid],
    )
    commands = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
    for name, permissive, cmd, roles, qual, check in rows:
        to = sql.SQL(", ").join(sql.SQL("PUBLIC") if r == "" else sql.Identifier(r) for r in roles)
        statement = sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(name),
            shadow,
            sql.SQL("PERMISSIVE" if permissive else "RESTRICTIVE"),
            sql.SQL(commands[cmd]),
            to,
        )
        if qual is not None:
            statement += sql.SQL(" USING ({})").format(sql.SQL(qual))
        if check is not None:
            statement += sql.SQL(" WITH CHECK ({})").format(sql.SQL(check))
        carry.finish.append(statement)
    if rls:
        carry.finish.append(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(shadow))
    if force:
        carry.finish.append(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(shadow))
