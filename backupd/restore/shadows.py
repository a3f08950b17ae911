"""The restore's private schemas and the SQL that loads typed rows into shadow tables.

Each table of the set gets a shadow: a real (logged) table of the same name and shape in a
staging schema, loaded straight from the archive's JSON lines and later swapped in by catalog
operations (`swap/`). Tables of the i-th schema of the set stage in `backupd_staging` (i = 0)
or `backupd_staging_<i>`, and the swap moves the old tables to `backupd_old[_<i>]`, so names of
tables, indexes and sequences never collide and need no renaming. Everything is committed, so a
crashed run leaves these schemas behind; every restore drops them before it starts and after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper

from ..db.catalog import Column, Table

STAGING_SCHEMA = "backupd_staging"
OLD_SCHEMA = "backupd_old"
_OURS = re.compile(r"^backupd_(staging|old)(_\d+)?$")
# A member is sent in pieces of about this many bytes (cut at line boundaries), one COPY (or
# INSERT) each, several in flight on parallel connections: small enough to bound memory (each
# piece is held as bytes, as decoded rows and in its connection's send buffer; 2 MiB pieces
# cost 15 MiB more RSS at the same speed), big enough that per-statement costs do not matter.
PIECE_BYTES = 1024 * 1024


def staging_schema(n: int) -> str:
    return STAGING_SCHEMA if n == 0 else f"{STAGING_SCHEMA}_{n}"


def old_schema(n: int) -> str:
    return OLD_SCHEMA if n == 0 else f"{OLD_SCHEMA}_{n}"


@dataclass(frozen=True)
class ShadowColumn:
    """A column as it travels: its live definition and how the archive carries it."""

    column: Column
    as_text: bool  # json/jsonb value carried as its exact text in a JSON string

    @property
    def record_type(self) -> sql.Composable:
        # type_sql always comes from the live catalog (format_type), never from the archive.
        return sql.SQL("text") if self.as_text else sql.SQL(self.column.type_sql)

    @property
    def value(self) -> sql.Composable:
        ident = sql.SQL("r.{}").format(sql.Identifier(self.column.name))
        if self.as_text:
            return sql.SQL("{}::{}").format(ident, sql.SQL(self.column.type_sql))
        return ident


@dataclass
class ShadowTable:
    """One table of the set on its way through staging (mutable counters are filled by workers)."""

    index: int
    table: Table
    count: int  # rows the manifest declares
    declared_bytes: int
    columns: list[ShadowColumn]  # the archive's columns, in live order (generated ones included)
    sequences: dict[str, int | None] = field(default_factory=dict)  # archived last_value per column
    schema_index: int = 0  # which staging/old schema pair this table uses
    state: str = "waiting"  # waiting | loading | loaded (for progress steps)
    loaded_rows: int = 0
    loaded_bytes: int = 0

    @property
    def key(self) -> str:
        return self.table.key

    @property
    def typed(self) -> sql.Identifier:
        """The shadow table: the archive's typed rows (with every index once they are built)."""
        return sql.Identifier(staging_schema(self.schema_index), self.table.name)

    @property
    def old(self) -> sql.Identifier:
        """Where the swap moves the live table before it drops it."""
        return sql.Identifier(old_schema(self.schema_index), self.table.name)


def assign_schemas(plans: list[ShadowTable]) -> None:
    order: dict[str, int] = {}
    for plan in plans:
        plan.schema_index = order.setdefault(plan.table.schema, len(order))


def drop_schemas(conn: psycopg.Connection) -> None:
    """Drop every schema a restore (this one or a crashed one) left behind."""
    names = [
        r[0]
        for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^backupd_(staging|old)(_[0-9]+)?$'")
    ]
    for name in names:
        if _OURS.match(name):
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def create_schemas(conn: psycopg.Connection, plans: list[ShadowTable]) -> None:
    for n in sorted({p.schema_index for p in plans}):
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging_schema(n))))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(old_schema(n))))


class _TextBytesDumper(Dumper):
    oid = 25  # text

    def dump(self, obj: bytes) -> bytes:
        return obj


def register_text_bytes(conn: psycopg.Connection) -> None:
    """On the loading connections, bytes parameters travel as text (the UTF-8 JSON as it is), not
    as bytea: no decoding, no copy."""
    conn.adapters.register_dumper(bytes, _TextBytesDumper)


def load_sql(staged: ShadowTable) -> sql.Composed:
    """INSERT a piece's rows (one text parameter: its JSON lines) into the shadow.

    The server makes the lines one JSON array: a line cannot hold a raw newline (JSON escapes
    them), so turning the newlines into commas is exact, and the client keeps one copy.

    json_to_recordset over `json` (not jsonb) keeps -0, big numbers and every string exactly;
    json/jsonb columns arrive as text and are cast back, so JSON null and SQL NULL stay apart.
    Type, NOT NULL and CHECK errors surface here, before anything is locked.
    """
    names = sql.SQL(", ").join(sql.Identifier(c.column.name) for c in staged.columns if not c.column.generated)
    values = sql.SQL(", ").join(c.value for c in staged.columns if not c.column.generated)
    record = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.column.name), c.record_type) for c in staged.columns
    )
    overriding = (
        sql.SQL(" OVERRIDING SYSTEM VALUE") if any(c.column.identity == "a" for c in staged.columns) else sql.SQL("")
    )
    return sql.SQL(
        "INSERT INTO {shadow} ({names}){overriding} SELECT {values}"
        " FROM json_to_recordset(('[' || replace(left(%s, -1), E'\\n', ',') || ']')::json)"
        " AS r({record})"
    ).format(shadow=staged.typed, names=names, overriding=overriding, values=values, record=record)


def first_bad_line(conn: psycopg.Connection, staged: ShadowTable, piece: bytes) -> tuple[int, str] | None:
    """(line within the piece, message) of the first line that fails alone; nothing is kept."""
    query = load_sql(staged)
    with conn.transaction(force_rollback=True):
        for n, line in enumerate(piece.split(b"\n")[:-1], start=1):
            if not line.strip():
                return n, "empty line"
            try:
                with conn.transaction():
                    cur = conn.execute(query, [line + b"\n"])
            except psycopg.Error as exc:
                message = exc.diag.message_primary or str(exc)
                if "must be an array of objects" in message:
                    message = "not a JSON object"
                return n, message
            if cur.rowcount != 1:
                return n, "not a JSON object"
    return None
