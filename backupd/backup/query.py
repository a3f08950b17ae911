"""The query that turns a table's rows into JSON lines: COPY (SELECT row_to_json …) TO STDOUT.

One query for the archive's members (backup.engine) and the event export (backupd.export), so both
carry every value the same way, and a restore or a consumer reads them back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from ..db.catalog import Table

CHUNK_BYTES = 1024 * 1024  # COPY data is handed on in writes of about this size

# CSV with quote and delimiter bytes that row_to_json never emits (it escapes every control
# character), so each row arrives verbatim as one JSON line without COPY text-format escaping.
COPY_OPTIONS = sql.SQL("WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')")


def export_query(
    table: Table, where: sql.Composable | None = None, order_by: Sequence[str] | None = None
) -> sql.Composed:
    """COPY … TO STDOUT producing one JSON object per row, in primary-key order.

    json/jsonb columns are cast to text so they travel as exact strings (see Column.carried_as_text).
    Other arrays stay JSON arrays, except those with a lower bound other than 1 (which a JSON
    array cannot carry): they travel as their PostgreSQL text (`"[0:2]={7,8,9}"`) in a JSON string,
    which json_to_recordset reads back exactly. The check costs little per row: array_lower and
    array_ndims, and array_dims with a regex only for multi-dimensional arrays. The row is built in
    a LATERAL subquery (flattened by the planner) so the sort keys keep their own types even when
    the JSON value is rewritten.
    """
    items = []
    wrapped: set[str] = set()  # columns whose JSON value is not the column itself: sort by t.<column>
    for col in table.columns:
        ident = sql.Identifier(col.name)
        if col.carried_as_text:
            items.append(sql.SQL("t.{}::text AS {}").format(ident, ident))
        elif col.is_array:
            wrapped.add(col.name)
            items.append(
                sql.SQL(
                    "CASE WHEN array_lower(t.{0}, 1) <> 1"
                    " OR (array_ndims(t.{0}) > 1 AND array_dims(t.{0}) ~ '\\[(?!1:)')"
                    " THEN to_json(t.{0}::text) ELSE to_json(t.{0}) END AS {0}"
                ).format(ident)
            )
        else:
            items.append(sql.SQL("t.{}").format(ident))
    only = sql.SQL("") if table.partitioned else sql.SQL("ONLY ")  # a partitioned parent holds no rows itself
    select = sql.SQL("SELECT row_to_json(r.*) FROM {}{} AS t CROSS JOIN LATERAL (SELECT {}) AS r").format(
        only, table.ident, sql.SQL(", ").join(items)
    )
    if where is not None:
        select += sql.SQL(" WHERE ") + where
    keys = list(order_by) if order_by is not None else list(table.primary_key)
    order: sql.Composable
    if keys:
        order = sql.SQL(", ").join(sql.SQL("t.{}" if k in wrapped else "r.{}").format(sql.Identifier(k)) for k in keys)
    else:  # no primary key: order by the whole row so identical data still gives identical bytes
        order = sql.SQL('row_to_json(r.*)::text COLLATE "C"')
    # `r.*`, not `r`: a bare `r` would mean a column named r if the table has one (any name may exist).
    select += sql.SQL(" ORDER BY ") + order
    return sql.SQL("COPY ({}) TO STDOUT {}").format(select, COPY_OPTIONS)
