"""What a restore would change, per table, computed in PostgreSQL from the staged rows (docs/restore-guarantees.md).

Rows are matched by primary key: `added` are keys only in the archive, `removed` keys only in
the live table, `changed` keys in both whose row differs in any (non-generated) column, and
`unchanged` the rest. Matched rows are compared by their binary images (record_image_eq, the `*=` of records),
not by `=`: it tells a JSON `null` from SQL NULL, json whitespace and key order, -0 from 0 and
1.0 from 1.00, exactly as a restore would write them, without printing every row as text (which
took most of the time). Rows without a key are compared as text multisets. One merge FULL JOIN
per table (big tables with an integer key split into key ranges compared on parallel
connections); no row travels to Python.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..db.connection import ThreadConnections, connect, one_row
from .shadows import ShadowTable

SPLIT_ROWS = 200_000  # tables with more rows than this are compared in key ranges, in parallel
_INTEGER_KEYS = {"smallint", "integer", "bigint"}


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


def compare_all(database_url: str, plans: list[ShadowTable], workers: int) -> dict[str, TableChanges]:
    """table_changes of every plan, on `workers` connections."""
    tasks: list[tuple[ShadowTable, tuple[int, int] | None]] = []
    with connect(database_url, application_name="backupd-restore") as conn:
        for plan in sorted(plans, key=lambda p: -p.count):
            tasks += [(plan, r) for r in _key_ranges(conn, plan, workers)]
    conns = ThreadConnections(database_url, application_name="backupd-restore", setup=_merge_joins_only)

    def run(task: tuple[ShadowTable, tuple[int, int] | None]) -> tuple[str, TableChanges]:
        return task[0].key, table_changes(conns.get(), task[0], task[1])

    totals: dict[str, TableChanges] = {}
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backupd-changes") as pool:
            for key, part in pool.map(run, tasks):
                totals[key] = _add(totals[key], part) if key in totals else part
    finally:
        conns.close()
    return {p.key: totals[p.key] for p in plans}


def _merge_joins_only(conn: psycopg.Connection) -> None:
    """The shadows may not be ANALYZEd yet (the comparison runs beside their last index builds):
    without statistics the planner takes a shadow for 5,000 rows and hashes it (2.2× slower at
    1M events) or sorts it. Merge joins over the two primary key indexes are what this is for."""
    conn.execute("SET work_mem = '64MB'")
    conn.execute("SET enable_hashjoin = off")
    conn.execute("SET enable_sort = off")
    conn.execute("SET jit = off")


def _add(a: TableChanges, b: TableChanges) -> TableChanges:
    return TableChanges(*(x + y for x, y in zip(a.__dict__.values(), b.__dict__.values(), strict=True)))


def _key_ranges(conn: psycopg.Connection, plan: ShadowTable, parts: int) -> list[tuple[int, int] | None]:
    """Key ranges [lo, hi) covering both sides, for a big table with one integer key; else [None]."""
    keys = plan.table.primary_key
    if (
        parts < 2
        or plan.count <= SPLIT_ROWS
        or len(keys) != 1
        or plan.table.column(keys[0]).type_sql not in _INTEGER_KEYS
    ):
        return [None]
    key = sql.Identifier(keys[0])
    lo, hi = one_row(
        conn.execute(
            sql.SQL(
                "SELECT least((SELECT min({k}) FROM {s}), (SELECT min({k}) FROM {l})),"
                " greatest((SELECT max({k}) FROM {s}), (SELECT max({k}) FROM {l}))"
            ).format(k=key, s=plan.typed, l=plan.table.own_rows)
        )
    )
    if lo is None or hi is None:
        return [None]
    step = max(1, (hi - lo + parts) // parts)
    return [(start, start + step) for start in range(lo, hi + 1, step)]


def table_changes(
    conn: psycopg.Connection, plan: ShadowTable, key_range: tuple[int, int] | None = None
) -> TableChanges:
    """Compare the staged (typed) rows of `plan` with its live table (only keys in `key_range`)."""
    table = plan.table
    cols = [c.name for c in table.insertable_columns]
    values: Callable[[str], sql.Composed] = lambda alias: sql.SQL(", ").join(  # noqa: E731 - three one-line SQL builders read as a set
        sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(c)) for c in cols
    )
    row: Callable[[str], sql.Composed] = lambda alias: sql.SQL("ROW({})").format(values(alias))  # noqa: E731 - see `values`
    row_of: Callable[[str], sql.Composed] = lambda alias: sql.SQL("ROW({})::text").format(values(alias))  # noqa: E731 - see `values`
    if table.primary_key:
        keys = list(table.primary_key)
        on = sql.SQL(" AND ").join(sql.SQL("s.{0} = l.{0}").format(sql.Identifier(k)) for k in keys)
        s_missing = sql.SQL("s.{} IS NULL").format(sql.Identifier(keys[0]))
        l_missing = sql.SQL("l.{} IS NULL").format(sql.Identifier(keys[0]))
        query = sql.SQL(
            "SELECT count(*) FILTER (WHERE NOT {sm}), count(*) FILTER (WHERE NOT {lm}),"
            " count(*) FILTER (WHERE {lm}), count(*) FILTER (WHERE {sm}),"
            " count(*) FILTER (WHERE NOT {sm} AND NOT {lm} AND NOT record_image_eq({rs}, {rl}))"
            " FROM {typed} AS s FULL JOIN {live} AS l ON {on}"
        ).format(
            sm=s_missing,
            lm=l_missing,
            rs=row("s"),
            rl=row("l"),
            typed=_side(plan.typed, keys, key_range),
            live=_side(table.own_rows, keys, key_range),
            on=on,
        )
        archive_rows, live_rows, added, removed, changed = one_row(conn.execute(query))
    else:  # no key to match by: compare the rows (as text: json has no equality) as multisets
        query = sql.SQL(
            "SELECT (SELECT count(*) FROM {typed}), (SELECT count(*) FROM {live}),"
            " (SELECT count(*) FROM (SELECT {rs} FROM {typed} AS s EXCEPT ALL SELECT {rl} FROM {live} AS l) a),"
            " (SELECT count(*) FROM (SELECT {rl} FROM {live} AS l EXCEPT ALL SELECT {rs} FROM {typed} AS s) r)"
        ).format(typed=plan.typed, live=table.own_rows, rs=row_of("s"), rl=row_of("l"))
        archive_rows, live_rows, added, removed = one_row(conn.execute(query))
        changed = 0
    return TableChanges(archive_rows, live_rows, added, removed, changed, archive_rows - added - changed)


def _side(table: sql.Composable, keys: list[str], key_range: tuple[int, int] | None) -> sql.Composable:
    if key_range is None:
        return table
    return sql.SQL("(SELECT * FROM {} WHERE {k} >= {lo} AND {k} < {hi})").format(
        table, k=sql.Identifier(keys[0]), lo=sql.Literal(key_range[0]), hi=sql.Literal(key_range[1])
    )
