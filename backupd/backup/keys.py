"""Split keys: the primary keys a table can be cut into ranges by (a single integer or uuid column).

Ranges are computed on integers: an integer key as it is, a uuid as its 128-bit number, whose order
is PostgreSQL's uuid order (bytes compared in turn), so a bound halfway between two keys is their
mean whatever the type. The manifest records a uuid bound as its text (docs/archive-format.md).
Any other key (text, composite, none) keeps its table in one part: text order depends on a
collation that may change between backups, and a composite key has no single number to cut.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from ..db.catalog import Table

INTEGER_TYPES = ("integer", "bigint", "smallint")


@dataclass(frozen=True)
class SplitKey:
    column: str
    is_uuid: bool

    @property
    def ident(self) -> sql.Composable:
        return sql.SQL("t.{}").format(sql.Identifier(self.column))

    def literal(self, value: int) -> sql.Composable:
        """A bound in SQL, typed as the column."""
        if self.is_uuid:
            return sql.SQL("{}::uuid").format(sql.Literal(str(uuid.UUID(int=value))))
        return sql.Literal(value)

    def bucket(self, bounds: list[int]) -> sql.Composable:
        """SQL for the index of the range a row's key falls in: 0 below the first bound, i from bound i on."""
        if self.is_uuid:
            thresholds = sql.Literal([str(uuid.UUID(int=b)) for b in bounds])
            return sql.SQL("width_bucket({}, {}::uuid[])").format(self.ident, thresholds)
        return sql.SQL("width_bucket({}::bigint, {}::bigint[])").format(self.ident, sql.Literal(bounds))

    def lowest_and_highest(self) -> tuple[sql.Composable, sql.Composable]:
        """Aggregates of the lowest and highest key (uuid has no min/max: its text sorts the same under "C")."""
        if self.is_uuid:
            return (
                sql.SQL('min({}::text COLLATE "C")').format(self.ident),
                sql.SQL('max({}::text COLLATE "C")').format(self.ident),
            )
        return sql.SQL("min({})").format(self.ident), sql.SQL("max({})").format(self.ident)

    def number(self, value: Any) -> int | None:
        """A key read from PostgreSQL (an int, a uuid.UUID, or a uuid's text) as the number ranges use."""
        if value is None:
            return None
        if self.is_uuid:
            return (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).int
        return int(value)

    def to_manifest(self, value: int) -> int | str:
        return str(uuid.UUID(int=value)) if self.is_uuid else value

    def from_manifest(self, values: list[int] | list[str]) -> list[int] | None:
        """A manifest's part_bounds as numbers, or None when they are not this key's kind."""
        try:
            if self.is_uuid:
                return [uuid.UUID(v).int for v in values if isinstance(v, str)] if _all(values, str) else None
            return [v for v in values if isinstance(v, int)] if _all(values, int) else None
        except ValueError:
            return None


def _all(values: list[int] | list[str], kind: type) -> bool:
    return all(isinstance(v, kind) and not isinstance(v, bool) for v in values)


def split_key(table: Table) -> SplitKey | None:
    """The table's split key, or None when it stays one part."""
    if len(table.primary_key) != 1:
        return None
    column = table.column(table.primary_key[0])
    if column.type_sql in INTEGER_TYPES:
        return SplitKey(column.name, is_uuid=False)
    if column.type_sql == "uuid":
        return SplitKey(column.name, is_uuid=True)
    return None
