"""What a restore would change, per table, computed in PostgreSQL from the staged rows (CONTRACT §11).

Rows are matched by primary key: `added` are keys only in the archive, `removed` keys only in
the live table, `changed` keys in both whose row differs in any (non-generated) column, and
`unchanged` the rest. Rows are compared as their text (`ROW(...)::text`), which tells a JSON
`null` from SQL NULL, keeps json whitespace and key order, and -0 from 0, exactly as a restore
would write them. One FULL JOIN per table; no row travels to Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from .staging import StagedTable


@dataclass(frozen=True)
class TableChanges:
    archive_rows: int
    live_rows: int
    added: int
    removed: int
    changed: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def table_changes(conn: psycopg.Connection, plan: StagedTable) -> TableChanges:
    """Compare the staged (typed) rows of `plan` with its live table."""
    table = plan.table
    cols = [c.name for c in table.insertable_columns]
    row_of = lambda alias: sql.SQL("ROW({})::text").format(  # noqa: E731
        sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(c)) for c in cols))
    if table.primary_key:
        keys = list(table.primary_key)
        on = sql.SQL(" AND ").join(sql.SQL("s.{0} = l.{0}").format(sql.Identifier(k)) for k in keys)
        s_missing = sql.SQL("s.{} IS NULL").format(sql.Identifier(keys[0]))
        l_missing = sql.SQL("l.{} IS NULL").format(sql.Identifier(keys[0]))
        query = sql.SQL(
            "SELECT count(*) FILTER (WHERE NOT {sm}), count(*) FILTER (WHERE NOT {lm}),"
            " count(*) FILTER (WHERE {lm}), count(*) FILTER (WHERE {sm}),"
            " count(*) FILTER (WHERE NOT {sm} AND NOT {lm} AND {rs} IS DISTINCT FROM {rl})"
            " FROM {typed} AS s FULL JOIN ONLY {live} AS l ON {on}"
        ).format(sm=s_missing, lm=l_missing, rs=row_of("s"), rl=row_of("l"), typed=plan.typed,
                 live=table.ident, on=on)
        archive_rows, live_rows, added, removed, changed = conn.execute(query).fetchone()
    else:  # no key to match by: compare the rows (as text: json has no equality) as multisets
        query = sql.SQL(
            "SELECT (SELECT count(*) FROM {typed}), (SELECT count(*) FROM ONLY {live}),"
            " (SELECT count(*) FROM (SELECT {rs} FROM {typed} AS s EXCEPT ALL SELECT {rl} FROM ONLY {live} AS l) a),"
            " (SELECT count(*) FROM (SELECT {rl} FROM ONLY {live} AS l EXCEPT ALL SELECT {rs} FROM {typed} AS s) r)"
        ).format(typed=plan.typed, live=table.ident, rs=row_of("s"), rl=row_of("l"))
        archive_rows, live_rows, added, removed = conn.execute(query).fetchone()
        changed = 0
    return TableChanges(archive_rows, live_rows, added, removed, changed,
                        archive_rows - added - changed)
