"""Lines decoded in the client and sent by COPY: every scalar type exact, and the server path
where values are JSON arrays or objects."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from backupd.archive import ArchiveReader
from backupd.backup.engine import create_backup
from backupd.db.catalog import describe_tables
from backupd.restore.decode import DecodeError, line_decoder
from backupd.restore.engine import restore_from_backup
from backupd.restore.shadows import ShadowColumn, ShadowTable
from tests.support.restore import copy_to_schema, differences

SCALARS = r"""
CREATE TYPE mood AS ENUM ('happy', 'sad', 'it''s complicated');
CREATE DOMAIN doc AS jsonb CHECK (VALUE IS NOT NULL);
CREATE TABLE scalars (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    small    smallint,
    big      bigint,
    raw      bytea,
    amount   numeric,
    cents    numeric(12, 2),
    f4       real,
    f8       double precision,
    span     interval,
    ts       timestamp,
    tstz     timestamptz,
    day      date,
    tod      time,
    feeling  mood,
    tsv      tsvector,
    js       json,
    jsb      jsonb,
    dom      doc,
    uid      uuid,
    addr     inet,
    flag     boolean,
    ch       char(3),
    txt      text,
    doubled  numeric GENERATED ALWAYS AS (amount * 2) STORED
);
INSERT INTO scalars (small, big, raw, amount, cents, f4, f8, span, ts, tstz, day, tod, feeling, tsv, js, jsb, dom,
                     uid, addr, flag, ch, txt) VALUES
  (-32768, 9223372036854775807, '\x00ff5c0a09'::bytea, 'NaN', 12.30, 3.4028235e38, '-0',
   '1 year 2 mons 3 days 04:05:06.789', 'infinity', '-infinity', '0001-01-01 BC', '24:00:00', 'it''s complicated',
   'fat:1A cat:2B', '{"a":1,"a":2, "t": "tab\there\\u0000"}', '{"z": [1, {"y": null}], "n": 1.500}', '"s"',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', true, 'ab',
   E'tab\there, new\nline, cr\rback\\slash \\N \x01\x1f "quoted" \u00e9\U0001F600 \\.'),
  (0, -9223372036854775808, '', 123456789012345678901234567890.123456789, -0.01, 'NaN', 1e-320,
   '-00:00:00.000001', '2024-02-29 12:00:00.000001', '2024-06-01 00:00:00+14', '2024-01-01', '00:00:00', 'happy',
   '', 'null', 'null', '[]', NULL, '::1', false, 'x  ', ''),
  (NULL, NULL, NULL, 'Infinity', NULL, '-Infinity', 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   '{}', NULL, NULL, NULL, NULL, E'\\N'),
  (NULL, NULL, NULL, '-Infinity', NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   '0', NULL, NULL, NULL, NULL, NULL);
"""


def staged(conn: psycopg.Connection, name: str) -> ShadowTable:
    table = describe_tables(conn, [name])[0]
    columns = [ShadowColumn(c, as_text=c.carried_as_text) for c in table.columns]
    return ShadowTable(index=0, table=table, count=0, declared_bytes=0, columns=columns)


def member(archive: Path, key: str) -> bytes:
    with ArchiveReader(archive) as reader:
        return b"".join(reader.member_chunks(key))


def test_every_scalar_type_is_decoded_here_and_exact(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    db.execute(SCALARS)
    copy_to_schema(db, "expected", ["scalars"])
    archive = create_backup(database_url, backup_dir / "s.zip", tables=["scalars"]).path
    decoder = line_decoder(staged(db, "scalars"))
    assert decoder is not None
    rows = decoder.rows(member(archive, "scalars"))
    assert len(rows) == 4
    assert "doubled" not in decoder.names  # generated: PostgreSQL recomputes it
    first = dict(zip(decoder.names, rows[0], strict=True))
    assert (first["small"], first["big"], first["flag"]) == (-32768, 9223372036854775807, True)
    assert first["txt"].startswith("tab\there, new\nline, cr\rback\\slash \\N \x01")

    db.execute("DELETE FROM scalars WHERE id = 2")
    db.execute("UPDATE scalars SET txt = 'changed', f8 = 0 WHERE id = 1")
    result = restore_from_backup(database_url, archive, tables=["scalars"])

    assert result.items_restored == {"scalars": 4}
    assert differences(db, "expected", ["scalars"]) == []
    assert db.execute("SELECT f8::text, doubled::text FROM scalars WHERE id = 1").fetchone() == ("-0", "NaN")
    assert db.execute("SELECT txt FROM scalars WHERE id = 3").fetchone()[0] == "\\N"
    assert db.execute("SELECT txt IS NULL FROM scalars WHERE id = 4").fetchone()[0] is True


def test_arrays_and_names_msgspec_refuses_are_left_to_the_server(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE listy (id int PRIMARY KEY, tags text[])")
    db.execute('CREATE TABLE quoted (id int PRIMARY KEY, "say ""hi""" text)')
    db.execute('CREATE TABLE slashed (id int PRIMARY KEY, "back\\slash" text)')
    assert line_decoder(staged(db, "listy")) is None
    assert line_decoder(staged(db, "quoted")) is None  # tests/db/test_names.py restores such tables exactly
    assert line_decoder(staged(db, "slashed")) is None


def test_composite_values_fall_back_to_the_server_path(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    db.execute("CREATE TYPE pair AS (a int, b text)")
    db.execute("CREATE TABLE pairs (id int PRIMARY KEY, p pair, note text)")
    db.execute("INSERT INTO pairs SELECT g, ROW(g, 'x' || g)::pair, 'n' || g FROM generate_series(1, 3000) g")
    db.execute("INSERT INTO pairs VALUES (0, NULL, NULL), (-1, ROW(NULL, E'q\"\\\\t')::pair, '')")
    copy_to_schema(db, "expected", ["pairs"])
    archive = create_backup(database_url, backup_dir / "p.zip", tables=["pairs"]).path
    decoder = line_decoder(staged(db, "pairs"))
    assert decoder is not None
    with pytest.raises(DecodeError):
        decoder.rows(member(archive, "pairs"))  # {"a":1,"b":"x1"} is not the text of a pair

    db.execute("UPDATE pairs SET p = NULL")
    result = restore_from_backup(database_url, archive, tables=["pairs"])

    assert result.items_restored == {"pairs": 3002}
    assert differences(db, "expected", ["pairs"]) == []
