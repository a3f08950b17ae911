"""Archive lines decoded in the client and sent to the shadow tables by COPY.

The server's JSON parser (`json_to_recordset`, `staging.load_sql`) was the slowest step of a
restore: it builds a hash of every object's keys before it calls the input functions. Decoding
here (msgspec, in C) and sending COPY text leaves the server only the input functions: at 100k
demo events, 2.9 s of CPU in all instead of 4.3 s.

Exactness is the server path's: strings are decoded from their JSON escapes exactly, numbers of
float and numeric columns keep their text (`msgspec.Raw`), json/jsonb values arrive as their
exact text (the archive's text encoding), and COPY's escaping is psycopg's. A line that does not
decode to the shape expected here (a JSON array or object in a column, a missing key, anything
malformed) sends its piece down the server path, which loads it or names its bad line.
"""

from __future__ import annotations

import msgspec
import psycopg
from psycopg import sql
from psycopg.adapt import Dumper

from .shadows import ShadowTable

_INTEGERS = frozenset({"int2", "int4", "int8"})
_NUMBERS = frozenset({"float4", "float8", "numeric"})  # JSON numbers, or "NaN"/"Infinity" strings

DecodeError = msgspec.MsgspecError


class LineDecoder:
    """Decodes a piece of one table's JSON lines into rows in the order of its `copy_sql`."""

    def __init__(self, staged: ShadowTable, names: list[str], types: list[type]) -> None:
        fields = [(f"c{i}", kind if kind is msgspec.Raw else kind | None) for i, kind in enumerate(types)]
        row = msgspec.defstruct("Row", fields, rename={f"c{i}": name for i, name in enumerate(names)}, gc=False)
        self.names = names
        self._decoder = msgspec.json.Decoder(row)
        # COPY writes identity ALWAYS columns as given, like OVERRIDING SYSTEM VALUE.
        self.copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            staged.typed, sql.SQL(", ").join(sql.Identifier(name) for name in names)
        )

    def rows(self, piece: bytes) -> list[tuple[object, ...]]:
        astuple = msgspec.structs.astuple
        return [astuple(row) for row in self._decoder.decode_lines(piece)]


def line_decoder(staged: ShadowTable) -> LineDecoder | None:
    """A decoder for the table's lines, or None where only the server path carries its values
    exactly: arrays (JSON arrays), json/jsonb embedded as JSON (seed-style manifests), and
    column names msgspec cannot take."""
    names: list[str] = []
    types: list[type] = []
    for col in staged.columns:
        column = col.column
        if column.generated:
            continue
        if column.is_array or (column.base_type in ("json", "jsonb") and not col.as_text):
            return None
        if column.base_type in _INTEGERS:
            kind: type = int
        elif column.base_type == "bool":
            kind = bool
        elif column.base_type in _NUMBERS:
            kind = msgspec.Raw  # the number's own text (msgspec's Decimal would turn -0 into 0)
        else:
            kind = str  # every other type is a JSON string of its text form (or a composite: then it fails)
        names.append(column.name)
        types.append(kind)
    try:
        return LineDecoder(staged, names, types)
    except ValueError:  # msgspec refuses field names with '\\', '"' or control characters
        return None


class _RawNumberDumper(Dumper):
    """A float or numeric value as its JSON text: NaN and ±Infinity come as JSON strings, and a
    JSON null is SQL NULL (a dumper may return None since psycopg 3.2)."""

    oid = 0

    def dump(self, obj: msgspec.Raw) -> bytes | None:
        text = bytes(obj)
        if text == b"null":
            return None
        if text.startswith(b'"'):
            return msgspec.json.decode(text, type=str).encode()
        return text


def register_raw_numbers(conn: psycopg.Connection) -> None:
    conn.adapters.register_dumper(msgspec.Raw, _RawNumberDumper)


def copy_rows(conn: psycopg.Connection, statement: sql.Composed, rows: list[tuple[object, ...]]) -> int:
    """COPY the rows in; the number the server stored."""
    with conn.cursor() as cur:
        with cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return cur.rowcount
