"""Restore engine: exact round trips, sequences, table sets, out-of-set dependants, locking, readers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.cli import main
from backupd.db.connection import connect
from backupd.errors import RestoreError
from backupd.progress import Progress
from backupd.restore.engine import restore_from_backup
from tests.support.restore import (
    copy_to_schema,
    differences,
    fill_adversarial,
    fill_volume,
    snapshot,
    staging_schema_exists,
)


def mutate_default_tables(db: psycopg.Connection) -> None:
    """Change the data after a backup in every way a restore must undo."""
    db.execute("DELETE FROM alerts WHERE dedup_key = 'dup-keys'")
    db.execute("UPDATE events SET notes = 'changed', entities = NULL, flags = 'null' WHERE id = 1")
    db.execute("UPDATE prompts SET temperature = 0 WHERE model = 'neg-zero'")
    db.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('cam-new', 'New', '/new')")
    db.execute("INSERT INTO events (batch_id, camera_id, started_at) VALUES ('new', 'cam-new', now())")
    db.execute("DELETE FROM settings WHERE key = 's-null'")
    db.execute("UPDATE settings SET value = '{\"a\": 1}' WHERE key = 's-object'")
    db.execute("DELETE FROM household_members")


def test_round_trip_is_exact(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    fill_adversarial(db)
    copy_to_schema(db, "expected")
    archive = create_backup(database_url, backup_dir / "a.zip").path
    mutate_default_tables(db)
    assert differences(db, "expected")  # the comparison does see the changes

    seen: list[Progress] = []
    result = restore_from_backup(database_url, archive, progress=seen.append)

    assert differences(db, "expected") == []
    assert result.items_restored == {k: v.count for k, v in result.manifest.contents.items()}
    assert result.items_restored["events"] == 3 and result.items_restored["prompts"] == 7
    assert result.swap_lock_seconds > 0 and result.staging_seconds > 0
    assert not staging_schema_exists(db)
    # Progress: validating, then restoring, never decreasing, 100 only at the end.
    phases = [p.phase for p in seen]
    assert phases[0] == "validating" and "restoring" in phases and phases[-1] == "completed"
    assert phases.index("restoring") > max(i for i, p in enumerate(phases) if p == "validating")
    percents = [p.percent for p in seen]
    assert percents == sorted(percents) and percents[-1] == 100 and 100 not in percents[:-1]
    assert any(p.step.startswith("Loading") for p in seen) and any(p.step == "Swapping tables" for p in seen)


def test_json_null_sql_null_and_specials_survive(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    """Spot checks of the traps, on top of the column-by-column comparison."""
    fill_adversarial(db)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    db.execute("TRUNCATE alerts, events, cameras, zones, prompts, baselines, household_members, settings")
    restore_from_backup(database_url, archive)

    rows = dict(db.execute("SELECT dedup_key, metadata::text FROM alerts").fetchall())
    assert rows["dup-keys"] == "null"  # JSON null stays JSON null
    assert rows["multi-line"] == '"\\u0000"'  # json keeps \u0000 verbatim
    assert rows["sql-null \\N"] == r'  {"x": "\"q\" \\ \u00e9 é"}  '  # json whitespace kept
    assert (
        db.execute("SELECT channels::text FROM alerts WHERE dedup_key = 'dup-keys'").fetchone()[0]
        == '{"a" : 1, "a": 2}'
    )
    assert db.execute("SELECT channels IS NULL FROM alerts WHERE dedup_key = 'sql-null \\N'").fetchone()[0]
    temps = dict(db.execute("SELECT model, temperature::text FROM prompts").fetchall())
    assert temps == {
        "nan": "NaN",
        "inf": "Infinity",
        "-inf": "-Infinity",
        "neg-zero": "-0",
        "denormal": "1e-320",
        "point-three": "0.30000000000000004",
        "max": "1.7976931348623157e+308",
    }
    assert db.execute("SELECT started_at::text, ended_at::text FROM events WHERE id = 1").fetchone() == (
        "-infinity",
        "infinity",
    )
    assert db.execute(
        "SELECT entities IS NOT NULL AND entities = 'null'::jsonb, flags IS NULL FROM events WHERE id = 1"
    ).fetchone() == (True, True)


def test_sequences_move_past_restored_ids(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    fill_adversarial(db)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    # A fresh database's sequences start at 1: the restored ids 1..3 would collide without setval.
    db.execute(
        "TRUNCATE alerts, events, cameras, zones, prompts, baselines, household_members, settings RESTART IDENTITY"
    )
    restore_from_backup(database_url, archive)
    new_id = db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at) VALUES ('x', 'cam-1', now()) RETURNING id"
    ).fetchone()[0]
    assert new_id == 4
    assert db.execute("INSERT INTO prompts (model, system_prompt) VALUES ('new', 'p') RETURNING id").fetchone()[0] == 8


def test_sequences_never_move_down(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    fill_adversarial(db)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    db.execute("SELECT setval('events_id_seq', 500)")
    restore_from_backup(database_url, archive)
    assert db.execute("SELECT nextval('events_id_seq')").fetchone()[0] == 501


KITCHEN_SINK = r"""
CREATE TYPE mood AS ENUM ('happy', 'sad', 'it''s complicated');
CREATE DOMAIN doc AS jsonb CHECK (VALUE IS NOT NULL);
CREATE TABLE kitchen_sink (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raw       bytea,
    amount    numeric,
    money_ish numeric(12, 2),
    span      interval,
    ints      integer[],
    words     text[],
    grid      float8[],
    f4        real,
    f8        double precision,
    ts        timestamp,
    tstz      timestamptz,
    day       date,
    tod       time,
    feeling   mood,
    feelings  mood[],
    tsv       tsvector,
    js        json,
    jsb       jsonb,
    jsarr     jsonb[],
    dom       doc,
    uid       uuid,
    addr      inet,
    flag      boolean,
    ch        char(3),
    doubled   numeric GENERATED ALWAYS AS (amount * 2) STORED
);
INSERT INTO kitchen_sink (raw, amount, money_ish, span, ints, words, grid, f4, f8, ts, tstz, day, tod, feeling,
                          feelings, tsv, js, jsb, jsarr, dom, uid, addr, flag, ch) VALUES
  ('\x00ff5c0a'::bytea, 'NaN', 12.30, '1 year 2 mons 3 days 04:05:06.789', '{1,NULL,3}', '{"NULL",NULL,"a,b","q\"t"}',
   '{{1.5,NaN},{Infinity,-0}}', 3.4028235e38, -0, 'infinity', '-infinity', '0001-01-01 BC', '24:00:00', 'it''s complicated',
   '{happy,sad}', 'fat:1A cat:2B', '{"a":1,"a":2}', '{"z": [1, {"y": null}]}', ARRAY['null'::jsonb, '{"k": "v"}'],
   '"s"', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', true, 'ab'),
  ('', 123456789012345678901234567890.123456789, -0.01, '-00:00:00.000001', '{}', '{}', '{}', 'NaN', 1e-320,
   '2024-02-29 12:00:00.000001', '2024-06-01 00:00:00+14', '2024-01-01', '00:00:00', 'happy', '{}', '', 'null',
   'null', '{}', '[]', NULL, '::1', false, 'x  '),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   '{}', NULL, NULL, NULL, NULL);
"""


def test_extra_table_every_type_round_trip(
    db: psycopg.Connection, database_url: str, backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.execute(KITCHEN_SINK)
    copy_to_schema(db, "expected", ["kitchen_sink"])
    archive = create_backup(database_url, backup_dir / "k.zip", tables=["kitchen_sink"]).path
    db.execute("DELETE FROM kitchen_sink WHERE id = 2")
    db.execute("UPDATE kitchen_sink SET amount = 1, words = '{changed}' WHERE id = 1")
    db.execute("INSERT INTO kitchen_sink (dom) VALUES ('1')")

    monkeypatch.setenv("BACKUPD_TABLES", "kitchen_sink")  # tables=None: the configured set
    result = restore_from_backup(database_url, archive)

    assert result.items_restored == {"kitchen_sink": 3}
    assert differences(db, "expected", ["kitchen_sink"]) == []
    assert db.execute("SELECT doubled::text FROM kitchen_sink WHERE id = 1").fetchone()[0] == "NaN"
    # identity ALWAYS: the next default value does not collide (the inserted id 4 was rolled back by the restore).
    assert db.execute("INSERT INTO kitchen_sink (dom) VALUES ('2') RETURNING id").fetchone()[0] == 5


def test_second_table_set_in_another_schema(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    db.execute("""
        CREATE SCHEMA shop;
        CREATE TABLE shop.customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
        CREATE TABLE shop.orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES shop.customers,
                                  total numeric(10, 2), items jsonb);
        INSERT INTO shop.customers (name) VALUES ('a'), ('b');
        INSERT INTO shop.orders (customer_id, total, items) VALUES (1, 9.99, '[{"sku": "x"}]'), (2, 0, 'null'), (2, NULL, NULL);
    """)
    tables = ["shop.orders", "shop.customers"]
    copy_to_schema(db, "expected", tables)
    archive = create_backup(database_url, backup_dir / "s.zip", tables=tables).path
    db.execute(
        "UPDATE shop.customers SET name = 'b2' WHERE id = 2; DELETE FROM shop.orders WHERE id = 1;"
        " INSERT INTO shop.customers (name) VALUES ('c')"
    )
    before_default = snapshot(db)

    result = restore_from_backup(database_url, archive, tables=tables)

    assert result.items_restored == {"shop.customers": 2, "shop.orders": 3}
    assert differences(db, "expected", tables) == []
    assert snapshot(db) == before_default  # the default tables were not touched
    assert db.execute("INSERT INTO shop.orders (customer_id) VALUES (1) RETURNING id").fetchone()[0] == 4


def test_archive_must_match_the_table_set(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    fill_adversarial(db)
    archive = create_backup(database_url, backup_dir / "a.zip", tables=["cameras", "zones"]).path
    before = snapshot(db)
    with pytest.raises(RestoreError, match=r"missing .*events"):
        restore_from_backup(database_url, archive)
    with pytest.raises(RestoreError, match=r"not in the set: zones"):
        restore_from_backup(database_url, archive, tables=["cameras"])
    assert snapshot(db) == before
    assert not staging_schema_exists(db)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("ALTER TABLE zones ADD COLUMN label text", r"zones: the database table has column 'label'"),
        ("ALTER TABLE zones DROP COLUMN color", r"zones: the archive has column 'color'"),
        ("ALTER TABLE zones RENAME COLUMN priority TO rank", r"zones: the archive has column 'priority'"),
        (
            "ALTER TABLE zones ALTER COLUMN priority TYPE bigint",
            r"zones.priority: archived as integer, the database has bigint",
        ),
    ],
)
def test_column_mismatch_is_refused(
    db: psycopg.Connection, database_url: str, backup_dir: Path, change: str, message: str
) -> None:
    fill_adversarial(db)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    db.execute(change)
    db.execute("DELETE FROM alerts")
    before = snapshot(db)
    with pytest.raises(RestoreError, match=message):
        restore_from_backup(database_url, archive)
    assert snapshot(db) == before
    assert not staging_schema_exists(db)


def test_added_generated_column_is_fine(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    fill_adversarial(db)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    db.execute("ALTER TABLE zones ADD COLUMN double_priority int GENERATED ALWAYS AS (priority * 2) STORED")
    db.execute("UPDATE zones SET priority = 9")
    restore_from_backup(database_url, archive)
    assert db.execute("SELECT priority, double_priority FROM zones WHERE id = 'z-1'").fetchone() == (3, 6)


# ---------------------------------------------------------------------------------------------
# Tables outside the set that reference it (the real application's detections)


DETECTIONS = """
CREATE TABLE detections (
    id serial PRIMARY KEY,
    event_id int NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    camera_id text REFERENCES cameras (id) ON DELETE SET NULL,
    label text NOT NULL
);
"""


def test_outside_rows_whose_parents_survive_survive(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    fill_adversarial(db)
    db.execute(DETECTIONS)
    db.execute(
        "INSERT INTO detections (event_id, camera_id, label) VALUES (1, 'cam-1', 'person'), (2, NULL, 'car'),"
        " (3, 'cam-3', 'dog')"
    )
    copy_to_schema(db, "expected")
    archive = create_backup(database_url, backup_dir / "a.zip").path
    mutate_default_tables(db)  # includes a new event and camera (no detections on them)
    db.execute("UPDATE cameras SET name = 'renamed' WHERE id = 'cam-1'")
    detections_before = snapshot(db, ["detections"])

    result = restore_from_backup(database_url, archive)

    assert differences(db, "expected") == []
    assert snapshot(db, ["detections"]) == detections_before
    assert result.items_restored["events"] == 3
    assert not staging_schema_exists(db)
    # The foreign keys are intact and still enforced.
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute("INSERT INTO detections (event_id, label) VALUES (999, 'x')")


def test_restore_refuses_to_orphan_outside_rows(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    fill_adversarial(db)
    db.execute(DETECTIONS)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    # After the backup: a new camera and event, and detections depending on them.
    db.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('cam-new', 'New', '/new')")
    new_event = db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at) VALUES ('n', 'cam-new', now()) RETURNING id"
    ).fetchone()[0]
    db.execute(
        "INSERT INTO detections (event_id, camera_id, label) VALUES (%s, 'cam-new', 'a'), (%s, NULL, 'b'),"
        " (1, 'cam-1', 'kept')",
        [new_event, new_event],
    )
    before = snapshot(db, [*snapshot(db).keys(), "detections"])

    with pytest.raises(RestoreError) as info:
        restore_from_backup(database_url, archive)

    message = str(info.value)
    assert "2 rows of detections" in message and "nothing was changed" in message
    assert snapshot(db, list(before)) == before
    assert not staging_schema_exists(db)


def test_outside_references_to_a_unique_column(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    """An outside table referencing cameras.name: renaming it in the backup would orphan the row."""
    fill_adversarial(db)
    db.execute("CREATE TABLE camera_notes (camera_name text REFERENCES cameras (name) ON UPDATE CASCADE, note text)")
    db.execute("INSERT INTO camera_notes VALUES ('Front \"door\"', 'kept')")
    archive = create_backup(database_url, backup_dir / "a.zip").path
    restore_from_backup(database_url, archive)  # same names: fine
    assert db.execute("SELECT count(*) FROM camera_notes").fetchone()[0] == 1

    db.execute("UPDATE cameras SET name = 'Front' WHERE id = 'cam-1'")  # cascades to camera_notes
    with pytest.raises(RestoreError, match="1 rows of camera_notes"):
        restore_from_backup(database_url, archive)
    assert db.execute("SELECT camera_name FROM camera_notes").fetchone()[0] == "Front"


# ---------------------------------------------------------------------------------------------
# Concurrency: busy tables, readers during the swap


def test_busy_tables_fail_fast_and_change_nothing(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    fill_adversarial(db)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    mutate_default_tables(db)
    before = snapshot(db)
    with connect(database_url) as other:
        other.execute("BEGIN")
        other.execute(
            "UPDATE zones SET priority = priority"
        )  # a writer: ROW EXCLUSIVE until it ends (readers never block)
        started = time.monotonic()
        with pytest.raises(RestoreError, match=r"^tables are busy: could not lock them within 1s$"):
            restore_from_backup(database_url, archive, lock_timeout="1s")
        assert time.monotonic() - started < 30
        other.execute("ROLLBACK")
    assert snapshot(db) == before
    assert not staging_schema_exists(db)


def test_readers_never_see_a_mix(db: psycopg.Connection, database_url: str, backup_dir: Path) -> None:
    fill_volume(db, 10000)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    old = db.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM alerts)").fetchone()
    db.execute("DELETE FROM alerts WHERE event_id > 5000")
    db.execute("DELETE FROM events WHERE id > 5000")
    db.execute("UPDATE events SET summary = 'changed' WHERE id <= 100")
    changed = db.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM alerts)").fetchone()
    seen: set[tuple[int, int, int]] = set()
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with connect(database_url) as conn:
                while not stop.is_set():
                    # One statement, one snapshot: counts of two tables and a changed-row marker.
                    seen.add(
                        conn.execute(
                            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM alerts),"
                            " (SELECT count(*) FROM events WHERE summary = 'changed')"
                        ).fetchone()
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)
        restore_from_backup(database_url, archive, lock_timeout="30s")
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert seen <= {(*changed, 100), (*old, 0)}, seen
    assert (*old, 0) in seen and (*changed, 100) in seen


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_restore_with_yes(
    db: psycopg.Connection,
    database_url: str,
    backup_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BACKUPD_TABLES", raising=False)
    fill_adversarial(db)
    copy_to_schema(db, "expected")
    archive = backup_dir / "a.zip"
    assert main(["--database-url", database_url, "backup", "-o", str(archive)]) == 0
    mutate_default_tables(db)
    capsys.readouterr()
    assert main(["--database-url", database_url, "restore", str(archive), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "restored backup" in out and "tables locked for" in out
    assert any(line.split()[:2] == ["events", "3"] for line in out.splitlines())
    assert differences(db, "expected") == []


def test_cli_restore_refuses_without_terminal(
    db: psycopg.Connection, database_url: str, backup_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_adversarial(db)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    db.execute("DELETE FROM alerts")
    assert main(["--database-url", database_url, "restore", str(archive)]) != 0  # pytest's stdin is not a tty
    err = capsys.readouterr().err
    assert "stdin is not a terminal" in err and "--yes" in err and len(err.strip().splitlines()) == 1
    assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0


def test_cli_restore_failure_is_one_line(
    database_url: str, backup_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not a zip at all")
    assert main(["--database-url", database_url, "restore", str(bogus), "--yes"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("backupd: error: not a valid ZIP archive")
