"""Rows outside the restored set: the swap refuses to orphan them.

A module of its own because both swaps run this check under their lock (the catalog swap before
it moves the tables, the in-place swap before it deletes rows), and neither strategy should import
the other for it.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ...db.catalog import ForeignKey
from ...db.connection import one_row
from ...errors import RestoreError
from ..shadows import ShadowTable


def outside_dependants(conn: psycopg.Connection, plans: list[ShadowTable], outside: list[ForeignKey]) -> None:
    """Refuse when rows outside the set would lose their parent (checked under the swap's lock)."""
    by_oid = {p.table.oid: p for p in plans}
    by_child: dict[int, list[ForeignKey]] = {}
    for fk in outside:
        by_child.setdefault(fk.table_oid, []).append(fk)
    problems: list[str] = []
    for fks in by_child.values():
        lost = [_lost_parent(fk, by_oid[fk.ref_table_oid]) for fk in fks]
        query = sql.SQL("SELECT count(*) FROM ONLY {} AS c WHERE {}").format(
            sql.SQL(fks[0].table), sql.SQL(" OR ").join(lost)
        )
        count = one_row(conn.execute(query))[0]
        if count:
            parents = ", ".join(sorted({by_oid[fk.ref_table_oid].key for fk in fks}))
            problems.append(f"{count} rows of {fks[0].table} (they reference {parents} rows missing from the backup)")
    if problems:
        raise RestoreError("the restore would delete or orphan " + "; ".join(problems) + "; nothing was changed")


def _lost_parent(fk: ForeignKey, parent: ShadowTable) -> sql.Composable:
    """Condition on child row c: it references a parent row that will not survive the restore
    (the archive has no row with the same primary key and the same referenced values)."""
    not_null = sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in fk.columns)
    pk = list(parent.table.primary_key)
    if list(fk.ref_columns) == pk or sorted(fk.ref_columns) == sorted(pk):
        match = sql.SQL(" AND ").join(
            sql.SQL("s.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for c, r in zip(fk.columns, fk.ref_columns, strict=True)
        )
        exists = sql.SQL("SELECT 1 FROM {} AS s WHERE {}").format(parent.typed, match)
    else:
        match = sql.SQL(" AND ").join(
            sql.SQL("p.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for c, r in zip(fk.columns, fk.ref_columns, strict=True)
        )
        same = sql.SQL(" AND ").join(
            sql.SQL("s.{0} = p.{0}").format(sql.Identifier(k)) for k in dict.fromkeys(pk + list(fk.ref_columns))
        )
        exists = sql.SQL("SELECT 1 FROM {} AS p JOIN {} AS s ON {} WHERE {}").format(
            parent.table.own_rows, parent.typed, same, match
        )
    return sql.SQL("({} AND NOT EXISTS ({}))").format(not_null, exists)
