"""Any table or column name must work: generated SQL never lets a name collide with its own aliases.

The export query once aliased the row as `r`, so a column named `r` was taken for the whole row
(`function row_to_json(int4range) does not exist`). These tests use every alias the generated SQL
uses (r, t, s, l, c, p, doc, n, target, current) and names that need quoting, through backup,
parallel parts, restore (truncate and merge paths), drill and the event export.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import psycopg
import pytest

from backupd.archive import verify_archive
from backupd.backup import parts as backup_parts
from backupd.backup.engine import create_backup
from backupd.drill.run import run_drill
from backupd.export import iter_events
from backupd.restore.engine import restore_from_backup

# Every alias the generated SQL uses, SQL keywords, and names that need quoting.
HOSTILE = [
    "r",
    "t",
    "s",
    "l",
    "c",
    "p",
    "doc",
    "n",
    "target",
    "current",
    "row",
    "select",
    "with space",
    'quo"te',
    "UPPER",
    "from",
]

SCHEMA = '''
CREATE TABLE "Odd ""Parent""" (
    r int PRIMARY KEY,
    t text NOT NULL,
    "select" jsonb,
    "row" json
);
CREATE TABLE odd_child (
    id int PRIMARY KEY,
    label text,
    r int4range,
    s text,
    l int,
    c int REFERENCES "Odd ""Parent""" (r),
    p numeric,
    doc text,
    n bigint,
    target int,
    current int,
    "row" text,
    "select" text,
    "with space" text,
    "quo""te" text,
    "UPPER" text,
    "from" jsonb,
    t int GENERATED ALWAYS AS (id * 2) STORED
);
CREATE SEQUENCE odd_child_n_seq OWNED BY odd_child.n;
ALTER TABLE odd_child ALTER COLUMN n SET DEFAULT nextval('odd_child_n_seq');
'''

PARENT = '"Odd ""Parent"""'  # the table is named: Odd "Parent"
TABLES = [PARENT, "odd_child"]
KEYS = ['Odd "Parent"', "odd_child"]


def fill(db: psycopg.Connection, children: int) -> None:
    db.execute(f"INSERT INTO {PARENT} VALUES (1, 'one', '{{\"a\": null}}', '[1, 2]'), (2, 'two', 'null', NULL)")
    db.execute(
        'INSERT INTO odd_child (id, label, r, s, l, c, p, doc, n, target, current, "row", "select",'
        ' "with space", "quo""te", "UPPER", "from")'
        " SELECT g, 'label ' || g, int4range(g, g + 10), 's' || g, g %% 7, 1 + g %% 2, g / 3.0, 'doc ' || g, g,"
        " g * 10, g * 100, 'row ' || g, 'select ' || g, 'space ' || g, 'quote \"' || g, 'UP ' || g,"
        " jsonb_build_object('g', g) FROM generate_series(1, %s) g",
        [children],
    )
    db.execute("SELECT setval('odd_child_n_seq', %s)", [children])


def rows_of(db: psycopg.Connection, table: str) -> list[str]:
    return [r[0] for r in db.execute(f"SELECT x::text FROM {table} AS x ORDER BY 1").fetchall()]


@pytest.fixture
def odd_db(db: psycopg.Connection) -> psycopg.Connection:
    db.execute(SCHEMA)
    fill(db, 500)
    return db


def test_backup_of_hostile_names_exports_every_column(
    odd_db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    result = create_backup(database_url, tmp_path / "odd.zip", tables=TABLES)
    assert {k: v.count for k, v in result.manifest.contents.items()} == {KEYS[0]: 2, KEYS[1]: 500}
    with zipfile.ZipFile(result.path) as zf:
        first = json.loads(zf.read("odd_child.jsonl").splitlines()[0])
    for name in [
        "r",
        "s",
        "l",
        "c",
        "p",
        "doc",
        "n",
        "target",
        "current",
        "row",
        "select",
        "with space",
        'quo"te',
        "UPPER",
        "from",
        "t",
    ]:
        assert name in first
    assert first["r"] == "[1,11)" and first["t"] == 2 and first['quo"te'] == 'quote "1'
    verify_archive(result.path)


def test_parallel_parts_with_a_key_named_r(
    odd_db: psycopg.Connection, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent's primary key is `r`: the key-range split and ORDER BY must use the column."""
    odd_db.execute(f"INSERT INTO {PARENT} SELECT g, 'p' || g, NULL, NULL FROM generate_series(3, 3000) g")
    one = create_backup(database_url, tmp_path / "one.zip", tables=TABLES, workers=1)
    monkeypatch.setattr(backup_parts, "PART_BYTES", 4096)
    many = create_backup(database_url, tmp_path / "many.zip", tables=TABLES, workers=2)
    assert one.manifest.contents[KEYS[0]].checksum == many.manifest.contents[KEYS[0]].checksum
    assert one.manifest.contents[KEYS[1]].checksum == many.manifest.contents[KEYS[1]].checksum


def test_restore_of_hostile_names_is_exact(odd_db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    before = {t: rows_of(odd_db, t) for t in TABLES}
    archive = create_backup(database_url, tmp_path / "odd.zip", tables=TABLES).path
    odd_db.execute("DELETE FROM odd_child WHERE id % 3 = 0")
    odd_db.execute("UPDATE odd_child SET s = 'changed', r = NULL, \"from\" = 'null' WHERE id % 5 = 0")
    odd_db.execute("INSERT INTO odd_child (id, label, c) VALUES (9999, 'new', 2)")

    result = restore_from_backup(database_url, archive, tables=TABLES)

    assert result.items_restored == {KEYS[0]: 2, KEYS[1]: 500}
    assert {t: rows_of(odd_db, t) for t in TABLES} == before
    # the insert above took 501 from the sequence; sequences never move down, so the next is 502
    assert odd_db.execute("SELECT nextval('odd_child_n_seq')").fetchone()[0] == 502


def test_merge_path_with_hostile_names(odd_db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    """Only the parent is restored; odd_child (outside the set) references it, so it is merged by key."""
    archive = create_backup(database_url, tmp_path / "parent.zip", tables=[TABLES[0]]).path
    before = rows_of(odd_db, TABLES[0])
    odd_db.execute(f"UPDATE {PARENT} SET t = 'changed', \"select\" = '{{\"b\": 1}}' WHERE r = 2")
    odd_db.execute(f"INSERT INTO {PARENT} VALUES (3, 'three', NULL, NULL)")

    restore_from_backup(database_url, archive, tables=[TABLES[0]])

    assert rows_of(odd_db, TABLES[0]) == before
    assert odd_db.execute("SELECT count(*) FROM odd_child").fetchone()[0] == 500

    odd_db.execute(f"INSERT INTO {PARENT} VALUES (3, 'three', NULL, NULL)")
    odd_db.execute("UPDATE odd_child SET c = 3 WHERE id = 7")
    with pytest.raises(Exception, match="1 rows of odd_child"):
        restore_from_backup(database_url, archive, tables=[TABLES[0]])
    assert odd_db.execute("SELECT c FROM odd_child WHERE id = 7").fetchone()[0] == 3


def test_drill_with_hostile_names(
    odd_db: psycopg.Connection, database_url: str, tmp_path: Path, pg_server_url: str, template_database: str
) -> None:
    from tests.support.database import create_database, drop_database, url_for_database

    archive = create_backup(database_url, tmp_path / "odd.zip", tables=TABLES).path
    name = create_database(pg_server_url, template=template_database)
    target = url_for_database(pg_server_url, name)
    try:
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(SCHEMA)
        report = run_drill(target, archive, tables=TABLES)
        assert report.error is None and report.ok
        assert [t.actual_count for t in report.tables] == [2, 500]
    finally:
        drop_database(pg_server_url, name)


def test_event_export_with_a_column_named_r(db: psycopg.Connection, database_url: str) -> None:
    db.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('cam', 'Cam', '/c')")
    db.execute('ALTER TABLE events ADD COLUMN r int4range, ADD COLUMN "row" text')
    db.execute(
        'INSERT INTO events (batch_id, camera_id, started_at, r, "row")'
        " VALUES ('b', 'cam', '2026-01-01T00:00:00Z', '[1,2)', 'x')"
    )
    lines = b"".join(iter_events(database_url)).splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row["r"] == "[1,2)" and row["row"] == "x" and row["camera_id"] == "cam"
