"""Exactness beyond plain values (docs/restore-guarantees.md): arrays whose lower bounds are not 1, and no
trigger of the application firing on restored rows, through the catalog swap and the in-place
swap (forced by a materialized view on the table: the shadows cannot carry it)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.db.locks import operation_lock
from backupd.restore.engine import RestoreResult, restore_from_backup

ARRAYS = r"""
CREATE TYPE mood AS ENUM ('calm', 'odd "one"', 'back\slash');
CREATE DOMAIN int_list AS int[];
CREATE TABLE arrays (id int PRIMARY KEY, ints int[], texts text[], moods mood[], listed int_list);
INSERT INTO arrays VALUES
  (1, '[0:2]={7,8,9}', '[-2:0]={"a\"b",NULL,"c\\d"}', '[5:6]={calm,"odd \"one\""}', '[0:0]={1}'),
  (2, '[0:1][2:3]={{1,2},{3,4}}', '{{"x y","NULL"},{NULL,"c\\d"}}', '{}', '{}'),
  (3, '{1,2,3}', '{}', '{NULL}', NULL),
  (4, NULL, '[1:1][0:1]={{p,q}}', '[0:0]={"back\\slash"}', '[2:3]={5,6}'),
  (5, '{}', ARRAY['', '''quoted''', E'tab\tline\nend', NULL], NULL, '{7}');
"""
ARRAY_COLUMNS = ("ints", "texts", "moods", "listed")
CHANGE_ARRAYS = """
UPDATE arrays SET ints = '{1}', texts = NULL, moods = '{calm}', listed = '{}';
DELETE FROM arrays WHERE id = 5;
INSERT INTO arrays VALUES (6, '{6}', '{six}', '{calm}', '{6}');
"""

TRIGGER_TABLES = r"""
CREATE TABLE trigger_log (id bigserial PRIMARY KEY, entry text NOT NULL);
CREATE TABLE docs (id int PRIMARY KEY, parent_id int REFERENCES docs (id) DEFERRABLE INITIALLY DEFERRED,
                   body text NOT NULL, search text, stamp text NOT NULL DEFAULT 'default');
CREATE TABLE doc_notes (id int PRIMARY KEY, doc_id int NOT NULL REFERENCES docs (id) ON DELETE CASCADE);
INSERT INTO docs VALUES (1, NULL, 'first', 'as archived', 'a'), (2, 1, 'second', NULL, 'b'), (3, 2, 'third', 'x', 'c');
INSERT INTO doc_notes VALUES (10, 1);
"""  # committed first: ALTER TABLE refuses a table with pending (deferred) trigger events
TRIGGER_DEFINITIONS = r"""
CREATE FUNCTION docs_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.search := 'rewritten by ' || TG_NAME; RETURN NEW; END $$;
CREATE FUNCTION docs_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO trigger_log (entry) VALUES (TG_NAME || ' ' || TG_OP || ' ' || TG_LEVEL); RETURN NULL; END $$;
CREATE TRIGGER a_rewrite BEFORE INSERT OR UPDATE ON docs FOR EACH ROW EXECUTE FUNCTION docs_rewrite();
CREATE TRIGGER b_log_rows AFTER INSERT OR DELETE ON docs FOR EACH ROW EXECUTE FUNCTION docs_log();
CREATE TRIGGER c_log_statements AFTER INSERT OR UPDATE OR DELETE ON docs FOR EACH STATEMENT EXECUTE FUNCTION docs_log();
CREATE TRIGGER d_always BEFORE INSERT OR UPDATE ON docs FOR EACH ROW EXECUTE FUNCTION docs_rewrite();
CREATE TRIGGER e_replica AFTER INSERT OR UPDATE OR DELETE ON docs FOR EACH ROW EXECUTE FUNCTION docs_log();
CREATE TRIGGER f_disabled AFTER INSERT OR UPDATE OR DELETE ON docs FOR EACH ROW EXECUTE FUNCTION docs_log();
ALTER TABLE docs ENABLE ALWAYS TRIGGER d_always;
ALTER TABLE docs ENABLE REPLICA TRIGGER e_replica;
ALTER TABLE docs DISABLE TRIGGER f_disabled;
"""
TRIGGER_STATES = [
    ("a_rewrite", "O"),
    ("b_log_rows", "O"),
    ("c_log_statements", "O"),
    ("d_always", "A"),
    ("e_replica", "R"),
    ("f_disabled", "D"),
]
CHANGE_DOCS = """
UPDATE docs SET body = 'changed' WHERE id < 3;
DELETE FROM docs WHERE id = 3;
INSERT INTO docs (id, parent_id, body) VALUES (4, 1, 'new');
"""


def backup(url: str, backup_dir: Path, tables: list[str]) -> Path:
    with operation_lock(url):
        path = create_backup(url, backup_dir / "exact.zip", tables=tables).path
    assert isinstance(path, Path)
    return path


def restore(url: str, archive: Path, tables: list[str]) -> RestoreResult:
    with operation_lock(url):
        return restore_from_backup(url, archive, tables=tables)


def rows_text(db: psycopg.Connection, table: str) -> list[tuple[int, str]]:
    return db.execute(f"SELECT id, t::text FROM {table} AS t ORDER BY id").fetchall()


def force_in_place(db: psycopg.Connection, table: str, in_place: bool) -> str:
    if in_place:
        db.execute(f"CREATE MATERIALIZED VIEW {table}_count AS SELECT count(*) AS n FROM {table}")
    return "in place" if in_place else "catalog"


def array_mismatches(db: psycopg.Connection) -> int:
    differs = " OR ".join(
        f"a.{c} IS DISTINCT FROM e.{c} OR array_dims(a.{c}) IS DISTINCT FROM array_dims(e.{c})" for c in ARRAY_COLUMNS
    )
    return db.execute(
        "SELECT count(*) FROM arrays AS a FULL JOIN arrays_expected AS e USING (id)"
        f" WHERE a.id IS NULL OR e.id IS NULL OR {differs}"
    ).fetchone()[0]


@pytest.mark.parametrize("in_place", [False, True], ids=["catalog", "in-place"])
def test_arrays_keep_their_bounds(db: psycopg.Connection, database_url: str, backup_dir: Path, in_place: bool) -> None:
    db.execute(ARRAYS)
    mode = force_in_place(db, "arrays", in_place)
    db.execute("CREATE TABLE arrays_expected AS TABLE arrays")
    expected = rows_text(db, "arrays")
    archive = backup(database_url, backup_dir, ["arrays"])
    db.execute(CHANGE_ARRAYS)
    assert array_mismatches(db) == 6

    result = restore(database_url, archive, ["arrays"])

    assert result.swap_mode == mode, result.fallback_reason
    assert array_mismatches(db) == 0
    assert rows_text(db, "arrays") == expected
    assert db.execute("SELECT array_dims(ints), array_dims(texts) FROM arrays WHERE id = 2").fetchone() == (
        "[0:1][2:3]",
        "[1:2][1:2]",
    )


def test_only_arrays_with_other_bounds_travel_as_text(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    db.execute(ARRAYS)
    with zipfile.ZipFile(backup(database_url, backup_dir, ["arrays"])) as archive:
        lines = [json.loads(line) for line in archive.read("arrays.jsonl").splitlines()]
        manifest = json.loads(archive.read("manifest.json"))
    assert lines[0]["ints"] == "[0:2]={7,8,9}" and lines[0]["listed"] == "[0:0]={1}"
    assert lines[1]["ints"] == "[0:1][2:3]={{1,2},{3,4}}" and lines[1]["texts"] == [["x y", "NULL"], [None, "c\\d"]]
    assert lines[2] == {"id": 3, "ints": [1, 2, 3], "texts": [], "moods": [None], "listed": None}
    assert lines[3]["texts"] == "[1:1][0:1]={{p,q}}" and lines[3]["moods"] == '[0:0]={"back\\\\slash"}'
    assert lines[4]["texts"] == ["", "'quoted'", "tab\tline\nend", None] and lines[4]["ints"] == []
    columns = {c["name"]: c for c in manifest["contents"]["arrays"]["columns"]}
    assert [n for n, c in columns.items() if c.get("array_text")] == list(ARRAY_COLUMNS)


def test_array_primary_keys_that_differ_only_in_bounds(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    db.execute("CREATE TABLE keyed (k int[] PRIMARY KEY, v text)")
    db.execute("INSERT INTO keyed VALUES ('{1}', 'one'), ('[0:0]={1}', 'zero'), ('[0:1]={1,2}', 'pair')")
    expected = db.execute("SELECT k::text, v FROM keyed ORDER BY k, v").fetchall()
    archive = backup(database_url, backup_dir, ["keyed"])
    db.execute("DELETE FROM keyed")

    restore(database_url, archive, ["keyed"])

    assert db.execute("SELECT k::text, v FROM keyed ORDER BY k, v").fetchall() == expected


def trigger_states(db: psycopg.Connection) -> list[tuple[str, str]]:
    return db.execute(
        "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'docs'::regclass AND NOT tgisinternal ORDER BY tgname"
    ).fetchall()


def log_count(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) FROM trigger_log").fetchone()[0]


@pytest.mark.parametrize("in_place", [False, True], ids=["catalog", "in-place"])
def test_no_application_trigger_fires_on_restored_rows(
    db: psycopg.Connection, database_url: str, backup_dir: Path, in_place: bool
) -> None:
    db.execute(TRIGGER_TABLES)
    db.execute(TRIGGER_DEFINITIONS)
    mode = force_in_place(db, "docs", in_place)
    expected = rows_text(db, "docs")
    archive = backup(database_url, backup_dir, ["docs"])
    db.execute(CHANGE_DOCS)
    assert rows_text(db, "docs") != expected
    logged = log_count(db)
    assert logged > 0  # the triggers do fire on the application's own changes

    result = restore(database_url, archive, ["docs"])

    assert result.swap_mode == mode, result.fallback_reason
    assert rows_text(db, "docs") == expected  # no rewrite, no default
    assert log_count(db) == logged
    assert trigger_states(db) == TRIGGER_STATES
    internal = db.execute(
        "SELECT DISTINCT tgenabled FROM pg_trigger WHERE tgisinternal"
        " AND tgrelid IN ('docs'::regclass, 'doc_notes'::regclass)"
    ).fetchall()
    assert internal == [("O",)]  # foreign keys stay enforced
    assert db.execute("SELECT id, doc_id FROM doc_notes").fetchall() == [(10, 1)]
    db.execute("INSERT INTO docs (id, body) VALUES (5, 'after')")  # and the application's triggers work again
    assert db.execute("SELECT search FROM docs WHERE id = 5").fetchone()[0] == "rewritten by d_always"
    assert log_count(db) == logged + 2


def test_rules_of_the_application_do_not_act_on_restored_rows(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    """A table with rewrite rules cannot be carried by a shadow, so it is replaced in place; the swap's
    own DELETE, UPDATE and INSERT must not be rewritten: rows exactly as archived, nothing added
    outside the set, every rule back in its state (enabled, ALWAYS, REPLICA, disabled) afterwards."""
    db.execute(TRIGGER_TABLES)
    db.execute("""
        CREATE RULE a_rewrite AS ON INSERT TO docs DO ALSO UPDATE docs SET search = 'by a rule' WHERE id = NEW.id;
        CREATE RULE b_log AS ON DELETE TO docs DO ALSO INSERT INTO trigger_log (entry) VALUES ('deleted ' || OLD.id);
        CREATE RULE c_always AS ON UPDATE TO docs DO ALSO INSERT INTO trigger_log (entry) VALUES ('updated');
        CREATE RULE d_replica AS ON INSERT TO docs DO ALSO INSERT INTO trigger_log (entry) VALUES ('replica');
        CREATE RULE e_disabled AS ON INSERT TO docs DO ALSO INSERT INTO trigger_log (entry) VALUES ('disabled');
        ALTER TABLE docs ENABLE ALWAYS RULE c_always;
        ALTER TABLE docs ENABLE REPLICA RULE d_replica;
        ALTER TABLE docs DISABLE RULE e_disabled;
    """)
    rules = "SELECT rulename, ev_enabled FROM pg_rewrite WHERE ev_class = 'docs'::regclass ORDER BY rulename"
    states = db.execute(rules).fetchall()
    expected = rows_text(db, "docs")
    archive = backup(database_url, backup_dir, ["docs"])
    db.execute(CHANGE_DOCS)
    logged = log_count(db)
    assert logged > 0  # the rules do act on the application's own changes

    result = restore(database_url, archive, ["docs"])

    assert result.swap_mode == "in place"
    assert rows_text(db, "docs") == expected
    assert log_count(db) == logged
    assert (
        db.execute(rules).fetchall()
        == states
        == [
            ("a_rewrite", "O"),
            ("b_log", "O"),
            ("c_always", "A"),
            ("d_replica", "R"),
            ("e_disabled", "D"),
        ]
    )
    db.execute("INSERT INTO docs (id, body, stamp) VALUES (5, 'after', 'x')")  # and the rules act again
    assert db.execute("SELECT search FROM docs WHERE id = 5").fetchone()[0] == "by a rule"


def test_partitioned_table_restores_in_place(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    """A partitioned table cannot be carried by a shadow, so its rows are replaced in place; its
    rows live in the partitions, not the parent (DELETE/UPDATE/count must not say ONLY)."""
    db.execute("""
        CREATE TABLE readings (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE readings_2026 PARTITION OF readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        INSERT INTO readings VALUES (1, '2025-05-01', 'a'), (2, '2026-02-01', 'b'), (3, '2026-03-01', 'c');
    """)
    archive = create_backup(database_url, tmp_path / "r.zip", tables=["readings"]).path
    original = [r[0] for r in db.execute("SELECT t::text FROM readings t ORDER BY 1")]
    db.execute(
        "UPDATE readings SET v = 'changed' WHERE id = 1; DELETE FROM readings WHERE id = 2;"
        " INSERT INTO readings VALUES (4, '2025-06-01', 'new')"
    )
    with operation_lock(database_url):
        result = restore_from_backup(database_url, archive, tables=["readings"])
    assert result.swap_mode == "in place"
    assert result.changes["readings"].as_dict() == {
        "archive_rows": 3,
        "live_rows": 3,
        "added": 1,
        "removed": 1,
        "changed": 1,
        "unchanged": 1,
    }
    assert [r[0] for r in db.execute("SELECT t::text FROM readings t ORDER BY 1")] == original
    assert db.execute("SELECT count(*) FROM readings_2026").fetchone()[0] == 2


@pytest.mark.parametrize("matview", [False, True], ids=["catalog", "in-place"])
def test_rows_kept_by_not_valid_constraints_restore(
    db: psycopg.Connection, database_url: str, tmp_path: Path, matview: bool
) -> None:
    """A NOT VALID CHECK or foreign key exists to let old rows break it: they restore, and the
    constraints come back as they were (NOT VALID, same name, same comment), on both paths."""
    db.execute("""
        CREATE TABLE owners (id int PRIMARY KEY);
        INSERT INTO owners VALUES (1);
        CREATE TABLE pets (id int PRIMARY KEY, owner_id int, age int);
        INSERT INTO pets VALUES (1, 1, 3), (2, 99, -4);
        ALTER TABLE pets ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID;
        ALTER TABLE pets ADD CONSTRAINT pets_owner FOREIGN KEY (owner_id) REFERENCES owners NOT VALID;
        COMMENT ON CONSTRAINT age_positive ON pets IS 'new rows only';
    """)
    if matview:
        db.execute("CREATE MATERIALIZED VIEW pet_count AS SELECT count(*) FROM pets")
    constraints = (
        "SELECT conname, pg_get_constraintdef(oid), convalidated, obj_description(oid, 'pg_constraint')"
        " FROM pg_constraint WHERE conrelid = 'pets'::regclass ORDER BY conname"
    )
    before = db.execute(constraints).fetchall()
    archive = create_backup(database_url, tmp_path / "p.zip", tables=["owners", "pets"]).path
    db.execute("DELETE FROM pets WHERE id = 2; UPDATE pets SET age = 5")
    with operation_lock(database_url):
        result = restore_from_backup(database_url, archive, tables=["owners", "pets"])
    assert result.swap_mode == ("in place" if matview else "catalog")
    assert db.execute("SELECT id, owner_id, age FROM pets ORDER BY id").fetchall() == [(1, 1, 3), (2, 99, -4)]
    assert db.execute(constraints).fetchall() == before
    assert {r[0]: r[2] for r in before if r[0] in ("age_positive", "pets_owner")} == {
        "age_positive": False,
        "pets_owner": False,
    }
