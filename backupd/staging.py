"""SQL for the restore's private staging schema: raw JSON lines, typed chunk tables, diagnostics.

Staging lives in committed UNLOGGED tables of one schema (`backupd_staging`) so several worker
connections can fill it at once and no WAL is written for it. Because it is committed, a crashed
run leaves it behind; every restore drops the schema before it starts and after it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from .backup import COPY_OPTIONS
from .catalog import Column, Table

STAGING_SCHEMA = "backupd_staging"
# A member is copied in pieces of about this many bytes (cut at line boundaries), each committed
# and converted while the next one loads: small enough to overlap loading with conversion and to
# diagnose a bad line quickly, big enough that per-statement costs do not matter.
PIECE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class StagedColumn:
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
class StagedTable:
    """One table of the set on its way through staging (mutable counters are filled by workers)."""

    index: int
    table: Table
    count: int  # rows the manifest declares
    declared_bytes: int
    columns: list[StagedColumn]  # the archive's columns, in live order (generated ones included)
    sequences: dict[str, int | None] = field(default_factory=dict)  # archived last_value per column
    state: str = "waiting"  # waiting | loading | converting | converted (for progress steps)
    chunks: int = 0  # pieces loaded (each becomes one typed chunk table)
    chunks_done: int = 0
    converted_rows: int = 0
    staged_bytes: int = 0
    converted_bytes: int = 0

    @property
    def key(self) -> str:
        return self.table.key

    def raw(self, n: int) -> sql.Identifier:
        return sql.Identifier(STAGING_SCHEMA, f"t{self.index}_r{n}")

    def chunk(self, n: int) -> sql.Identifier:
        return sql.Identifier(STAGING_SCHEMA, f"t{self.index}_c{n}")

    @property
    def typed(self) -> sql.Identifier:
        """A view over the typed chunk tables in archive (primary key) order."""
        return sql.Identifier(STAGING_SCHEMA, f"t{self.index}_typed")


def drop_schema(conn: psycopg.Connection) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(STAGING_SCHEMA)))


def create_schema(conn: psycopg.Connection) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(STAGING_SCHEMA)))


def create_raw_table(conn: psycopg.Connection, staged: StagedTable, n: int) -> None:
    conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (doc text)").format(staged.raw(n)))


def copy_raw_sql(staged: StagedTable, n: int) -> sql.Composed:
    return sql.SQL("COPY {} (doc) FROM STDIN {}").format(staged.raw(n), COPY_OPTIONS)


def drop_raw_table(conn: psycopg.Connection, staged: StagedTable, n: int) -> None:
    conn.execute(sql.SQL("DROP TABLE {}").format(staged.raw(n)))


def create_chunk_table(conn: psycopg.Connection, staged: StagedTable, n: int) -> None:
    """Same columns, types, NOT NULL and CHECK constraints as the live table; no identity,
    defaults, generation or indexes, so bad values fail here, before the swap takes its lock."""
    conn.execute(
        sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {} INCLUDING CONSTRAINTS)").format(
            staged.chunk(n), staged.table.ident
        )
    )


def convert_sql(staged: StagedTable, n: int, source: sql.Composable, where: sql.Composable) -> sql.Composed:
    """INSERT typed rows into chunk table n from JSON lines in `source` (aliased s, column doc).

    json_to_record over `json` (not jsonb) keeps -0, big numbers and every string exactly;
    json/jsonb columns arrive as text and are cast back, so JSON null and SQL NULL stay apart.
    """
    names = sql.SQL(", ").join(sql.Identifier(c.column.name) for c in staged.columns)
    values = sql.SQL(", ").join(c.value for c in staged.columns)
    record = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.column.name), c.record_type) for c in staged.columns
    )
    return sql.SQL(
        "INSERT INTO {chunk} ({names}) SELECT {values} FROM {source} AS s"
        " CROSS JOIN LATERAL json_to_record(s.doc::json) AS r({record}) WHERE {where}"
    ).format(chunk=staged.chunk(n), names=names, values=values, source=source, record=record, where=where)


def convert_chunk(conn: psycopg.Connection, staged: StagedTable, n: int) -> int:
    """Typed rows of raw piece n into chunk table n; returns the number of rows."""
    create_chunk_table(conn, staged, n)
    cur = conn.execute(convert_sql(staged, n, staged.raw(n), sql.SQL("true")))
    return cur.rowcount


# A per-row retry of one chunk in a subtransaction each, to find the first line that fails.
# Only runs after a chunk failed, so its cost (a few seconds for a chunk) does not matter.
_FIRST_BAD_LINE = """
CREATE OR REPLACE FUNCTION pg_temp.backupd_first_bad_line(source text, q text)
RETURNS TABLE (pos bigint, message text) LANGUAGE plpgsql AS $$
DECLARE
    d text;
    n bigint := 0;
BEGIN
    FOR d IN EXECUTE format('SELECT doc FROM %s ORDER BY ctid', source) LOOP
        n := n + 1;
        BEGIN
            IF d IS NULL THEN
                RAISE EXCEPTION 'empty line';
            END IF;
            EXECUTE q USING d;
        EXCEPTION WHEN OTHERS THEN
            pos := n;
            message := SQLERRM;
            RETURN NEXT;
            RETURN;
        END;
    END LOOP;
END $$
"""


def first_bad_line(conn: psycopg.Connection, staged: StagedTable, n: int) -> tuple[int, str] | None:
    """(line within piece n, error message) of the piece's first line that fails to convert.

    Rows of a freshly COPYed table lie in ctid order, which is the order of the lines.
    """
    conn.execute(_FIRST_BAD_LINE)
    single = convert_sql(staged, n, sql.SQL("(SELECT $1::text AS doc)"), sql.SQL("true")).as_string(conn)
    row = conn.execute(
        "SELECT pos, message FROM pg_temp.backupd_first_bad_line(%s, %s)",
        [sql.Composed([staged.raw(n)]).as_string(conn), single],
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def first_non_object_line(conn: psycopg.Connection, staged: StagedTable, n: int) -> int | None:
    """Line within piece n of its first empty or non-object line (json_to_record yields no row)."""
    row = conn.execute(
        sql.SQL(
            "SELECT n FROM (SELECT row_number() OVER (ORDER BY ctid) AS n, doc FROM {}) AS s"
            " WHERE doc IS NULL OR json_typeof(doc::json) <> 'object' ORDER BY n LIMIT 1"
        ).format(staged.raw(n))
    ).fetchone()
    return None if row is None else int(row[0])


def create_typed_view(conn: psycopg.Connection, staged: StagedTable) -> None:
    """The typed rows of all chunks in archive order (UNION ALL keeps each chunk's order)."""
    names = sql.SQL(", ").join(sql.Identifier(c.column.name) for c in staged.columns)
    parts = [sql.SQL("SELECT {} FROM {}").format(names, staged.chunk(n)) for n in range(staged.chunks)]
    conn.execute(sql.SQL("CREATE VIEW {} AS {}").format(staged.typed, sql.SQL(" UNION ALL ").join(parts)))
