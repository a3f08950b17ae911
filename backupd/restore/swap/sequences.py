"""Sequences after a swap: moved past the restored ids, never down.

A module of its own because both swaps end with it (the catalog swap for the shadows' sequences
it re-points, the in-place swap for the live tables' own), and neither strategy should import the
other for it.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ...db.connection import one_row
from ...errors import RestoreError
from ..shadows import ShadowTable


def raise_sequences(conn: psycopg.Connection, plan: ShadowTable, floors: dict[str, int]) -> None:
    """Move each serial/identity sequence past the restored ids, the archived value and `floors`
    (an identity column's old sequence); never down (setval is not transactional, so lowering one
    could collide after a rollback)."""
    for link in plan.table.sequences:
        seq = sql.SQL(serial_sequence(conn, plan, link.column) or link.sequence)
        floor = max(plan.sequences.get(link.column) or 0, floors.get(link.column) or 0)
        conn.execute(
            sql.SQL(
                "SELECT setval({lit}::regclass, target, true) FROM ("
                " SELECT GREATEST(COALESCE((SELECT max({col}) FROM {t}), 0), {floor}) AS target,"
                "        CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS current"
                " FROM {seq}) AS v WHERE target > current"
            ).format(
                lit=sql.Literal(seq.as_string(conn)),
                col=sql.Identifier(link.column),
                t=plan.table.own_rows,
                floor=sql.Literal(floor),
                seq=seq,
            )
        )


def serial_sequence(conn: psycopg.Connection, plan: ShadowTable, column: str) -> str | None:
    """The qualified name of the sequence behind a serial or identity column (None if it has none)."""
    name: str | None = one_row(
        conn.execute("SELECT pg_get_serial_sequence(%s, %s)", [plan.table.ident.as_string(conn), column])
    )[0]
    return name


def identity_sequence(conn: psycopg.Connection, plan: ShadowTable, column: str) -> str:
    """The qualified name of the sequence of an identity column (it always has one)."""
    name = serial_sequence(conn, plan, column)
    if name is None:
        raise RestoreError(f"{plan.key}.{column}: the identity column has no sequence")
    return name
