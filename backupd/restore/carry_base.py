"""What the carry modules share: the plan types (`Carry`, `SetCarry`, `ForeignKeyPlan`), the
`CannotCarry` refusal, and the few catalog helpers every concern uses.

A module of its own so that `carry.py` can import the concern modules (`carry_keys.py`,
`carry_access.py`), which fill a `Carry` and raise `CannotCarry`, without an import cycle.
`carry.py` re-exports the public names; import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from .shadows import ShadowTable

# What the carry executes: psycopg runs an SQL or a Composed, not any Composable.
Statement = sql.SQL | sql.Composed


class CannotCarry(Exception):
    """The catalog swap cannot reproduce something; the restore swaps in place instead."""


@dataclass
class ForeignKeyPlan:
    name: str
    table: sql.Composable  # the referencing table as it will be named when this runs
    add: Statement  # ADD CONSTRAINT … NOT VALID
    validate: bool  # the constraint was valid: VALIDATE it (a scan, under a weak lock)


@dataclass
class Carry:
    """What it takes to turn one table's loaded shadow into a full replacement."""

    plan: ShadowTable
    create: Statement = field(default_factory=lambda: sql.SQL(""))
    indexes: list[Statement] = field(default_factory=list)  # independent: built in parallel
    key_index: Statement | None = None  # the one of `indexes` behind the primary key
    constraints: list[Statement] = field(default_factory=list)  # after the indexes, in order
    foreign_keys: list[ForeignKeyPlan] = field(default_factory=list)  # after every table's keys
    finish: list[Statement] = field(default_factory=list)  # triggers, policies, grants, …
    swap_options: Statement | None = None  # undo the load-time autovacuum switch-off
    serial_sequences: list[tuple[str, str]] = field(default_factory=list)  # (sequence regclass, column)
    identity_columns: list[tuple[str, str]] = field(default_factory=list)  # (column, old sequence name)
    publications: list[str] = field(default_factory=list)
    statistics: list[tuple[str, sql.Composable, str]] = field(default_factory=list)  # (old, shadow's, schema)


@dataclass
class SetCarry:
    """The set's carry plus the dependants outside it that the swap re-points."""

    tables: list[Carry]
    views: list[Statement]  # CREATE OR REPLACE VIEW …, run after the new tables are in place
    outside_fks: list[tuple[sql.Composable, str, ForeignKeyPlan]]  # (child, constraint, re-add plan)
    outside_children: list[sql.Composable]


def catalog_rows(conn: psycopg.Connection, query: str, params: list[object]) -> list[tuple[Any, ...]]:
    """Every row of a catalog query (the carry only reads)."""
    return conn.execute(query, params).fetchall()


def qualified_name(conn: psycopg.Connection, plan: ShadowTable) -> str:
    """The live table's name as pg_get_indexdef/pg_get_triggerdef print it (always qualified)."""
    name: str = catalog_rows(
        conn, "SELECT quote_ident(%s) || '.' || quote_ident(%s)", [plan.table.schema, plan.table.name]
    )[0][0]
    return name


def option_list(options: list[str]) -> list[str]:
    """reloptions as `name = 'value'` (values quoted: they may hold anything)."""
    out = []
    for option in options:
        name, _, value = option.partition("=")
        out.append(f"{sql.Identifier(*name.split('.')).as_string(None)} = {sql.Literal(value).as_string(None)}")
    return out


def retarget(definition: str, old: str, new: str, what: str) -> str:
    """A definition read from the live table (pg_get_indexdef, …) with its one mention of it replaced."""
    if definition.count(old) != 1:
        raise CannotCarry(f"cannot rewrite the definition of {what}")
    return definition.replace(old, new)
