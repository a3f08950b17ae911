"""`backupd demo-data`: realistic, consistent synthetic data that replaces the application tables' rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from backupd.db.connection import connect
from backupd.demo import APP_TABLES, DemoDataError, generate_demo_data

EVENTS = 2000


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in APP_TABLES}


def _schema(conn: psycopg.Connection) -> tuple[list[tuple], list[tuple]]:
    """Index and constraint definitions of the eight tables: what demo-data drops and recreates must come back."""
    indexes = conn.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = 'public' AND tablename = ANY (%s) ORDER BY 1, 2",
        [list(APP_TABLES)],
    ).fetchall()
    constraints = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint"
        " WHERE conrelid = ANY (%s::regclass[]) ORDER BY 1, 2",
        [list(APP_TABLES)],
    ).fetchall()
    return indexes, constraints


@pytest.fixture
def demo(db: psycopg.Connection) -> dict[str, int]:
    return generate_demo_data(db, EVENTS)


def test_counts_match_the_return_value(db: psycopg.Connection, demo: dict[str, int]) -> None:
    assert list(demo) == list(APP_TABLES)
    assert _counts(db) == demo
    assert demo["events"] == EVENTS
    assert 0.2 * EVENTS <= demo["alerts"] <= 0.4 * EVENTS
    assert demo["cameras"] == 8
    assert demo["baselines"] == demo["cameras"] * 24 * 7
    assert all(demo[t] > 0 for t in APP_TABLES)


def test_every_foreign_key_holds(db: psycopg.Connection, demo: dict[str, int]) -> None:
    fks = db.execute(
        """
        SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND c.conrelid = ANY (%s::regclass[])
        """,
        [list(APP_TABLES)],
    ).fetchall()
    assert {(t, c, r) for t, c, r, _ in fks} >= {
        ("zones", "camera_id", "cameras"),
        ("baselines", "camera_id", "cameras"),
        ("events", "camera_id", "cameras"),
        ("alerts", "event_id", "events"),
    }
    for table, column, ref_table, ref_column in fks:
        orphans = db.execute(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM {ref_table} r WHERE r.{ref_column} = t.{column})"
        ).fetchone()[0]
        assert orphans == 0, f"{table}.{column} has {orphans} orphans"


def test_event_rows_are_realistic(db: psycopg.Connection, demo: dict[str, int]) -> None:
    avg_size, avg_json = db.execute(
        "SELECT avg(pg_column_size(e.*)), avg(octet_length(row_to_json(e)::text)) FROM events e"
    ).fetchone()
    assert 1000 <= avg_size <= 2000
    assert 1000 <= avg_json <= 2200
    unfilled = db.execute(
        "SELECT count(*) FILTER (WHERE search_vector IS NULL OR search_vector = ''::tsvector),"
        "       count(*) FILTER (WHERE entities IS NULL), count(*) FILTER (WHERE flags IS NULL),"
        "       count(*) FILTER (WHERE confidence_factors IS NULL),"
        "       count(*) FILTER (WHERE summary IS NULL OR reasoning IS NULL)"
        " FROM events"
    ).fetchone()
    assert unfilled == (0, 0, 0, 0, 0)
    # the search vector is exactly what the application computes from the text
    mismatched = db.execute(
        "SELECT count(*) FROM events"
        " WHERE search_vector IS DISTINCT FROM to_tsvector('english', summary || ' ' || reasoning)"
    ).fetchone()[0]
    assert mismatched == 0
    inconsistent = db.execute(
        "SELECT count(*) FROM events WHERE risk_level IS DISTINCT FROM CASE WHEN risk_score < 30 THEN 'low'"
        " WHEN risk_score < 60 THEN 'medium' WHEN risk_score < 85 THEN 'high' ELSE 'critical' END"
    ).fetchone()[0]
    assert inconsistent == 0
    span = db.execute(
        "SELECT min(started_at) >= now() - interval '92 days', max(started_at) <= now(),"
        "       max(started_at) - min(started_at) > interval '80 days',"
        "       count(DISTINCT summary), count(DISTINCT reasoning), count(DISTINCT risk_level),"
        "       count(DISTINCT camera_id), bool_and(jsonb_typeof(entities) = 'array'),"
        "       bool_and(jsonb_typeof(flags) = 'object'),"
        "       count(*) FILTER (WHERE jsonb_typeof(flags -> 'tags') = 'array')"
        " FROM events"
    ).fetchone()
    assert span[:3] == (True, True, True)
    assert span[3] > 200 and span[4] > 500 and span[5] == 4 and span[6] == 8
    assert span[7] and span[8] and span[9] == EVENTS
    # some NULLs in nullable columns, and text that is hard to carry exactly
    nulls = db.execute(
        "SELECT count(*) FILTER (WHERE ended_at IS NULL), count(*) FILTER (WHERE notes IS NULL),"
        "       count(*) FILTER (WHERE llm_prompt IS NULL), count(*) FILTER (WHERE clip_path IS NULL),"
        "       count(*) FILTER (WHERE object_types IS NULL), count(*) FILTER (WHERE notes IS NOT NULL)"
        " FROM events"
    ).fetchone()
    assert all(n > 0 for n in nulls)
    tricky = db.execute(
        r"""SELECT count(*) FILTER (WHERE reasoning LIKE '%日本%' OR notes LIKE '%日本%' OR notes LIKE '%配達%'),
                   count(*) FILTER (WHERE reasoning ~ '[éÉ]' OR notes ~ '[éë]'),
                   count(*) FILTER (WHERE reasoning LIKE '%📦%' OR notes ~ '[🐈]'),
                   count(*) FILTER (WHERE reasoning LIKE '%"%' OR notes LIKE '%"%'),
                   count(*) FILTER (WHERE strpos(reasoning, E'\\') > 0 OR strpos(notes, E'\\') > 0),
                   count(*) FILTER (WHERE strpos(reasoning, E'\n') > 0 OR strpos(notes, E'\n') > 0)
            FROM events"""
    ).fetchone()
    assert all(n > 0 for n in tricky), tricky
    assert db.execute("SELECT count(*) FROM household_members WHERE name ~ '[^\\x01-\\x7f]'").fetchone()[0] > 0


def test_alerts_are_consistent(db: psycopg.Connection, demo: dict[str, int]) -> None:
    row = db.execute(
        "SELECT count(DISTINCT a.id) = count(*), count(DISTINCT a.event_id) = count(*),"
        "       bool_and(a.created_at >= e.started_at AND a.updated_at >= a.created_at),"
        "       bool_and((a.delivered_at IS NULL) = (a.status = 'pending')),"
        "       count(*) FILTER (WHERE a.channels IS NULL), count(*) FILTER (WHERE a.metadata::text LIKE E'%\\n%'),"
        "       count(DISTINCT a.severity), count(DISTINCT a.status)"
        " FROM alerts a JOIN events e ON e.id = a.event_id"
    ).fetchone()
    assert row[:4] == (True, True, True, True)
    assert row[4] > 0 and row[5] > 0  # SQL NULLs, and json kept with its own whitespace
    assert row[6] == 4 and row[7] >= 3


def test_settings_have_varied_json_and_a_json_null(db: psycopg.Connection, demo: dict[str, int]) -> None:
    kinds = {k for (k,) in db.execute("SELECT DISTINCT jsonb_typeof(value) FROM settings")}
    assert kinds == {"object", "array", "number", "string", "boolean", "null"}
    assert db.execute("SELECT count(*) FROM settings WHERE value = 'null'::jsonb").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM settings WHERE value IS NULL").fetchone()[0] == 0


def test_small_tables_follow_their_constraints(db: psycopg.Connection, demo: dict[str, int]) -> None:
    row = db.execute(
        "SELECT count(DISTINCT (camera_id, hour, day_of_week)) = count(*), min(hour), max(hour),"
        "       min(day_of_week), max(day_of_week) FROM baselines"
    ).fetchone()
    assert row == (True, 0, 23, 0, 6)
    zones = db.execute(
        "SELECT count(DISTINCT zone_type), count(DISTINCT shape), bool_and(color ~ '^#[0-9A-Fa-f]{6}$'),"
        "       bool_and(jsonb_typeof(coordinates) = 'object'), count(DISTINCT camera_id) FROM zones"
    ).fetchone()
    assert zones == (5, 2, True, True, 8)
    statuses = {s for (s,) in db.execute("SELECT DISTINCT status FROM cameras")}
    assert statuses == {"online", "offline", "error", "unknown"}
    members = db.execute(
        "SELECT count(DISTINCT role), count(DISTINCT trusted_level),"
        " count(*) FILTER (WHERE typical_schedule IS NULL) FROM household_members"
    ).fetchone()
    assert members == (4, 3, 1)


def test_running_twice_replaces_the_data(db: psycopg.Connection) -> None:
    first = generate_demo_data(db, 1500)
    before = _counts(db)
    second = generate_demo_data(db, 1500)
    assert first["events"] == second["events"] == 1500
    assert _counts(db) == before == second
    # identities restarted: no duplicates, no gaps, and the next application insert does not collide
    assert db.execute("SELECT min(id), max(id), count(DISTINCT id) FROM events").fetchone() == (1, 1500, 1500)
    assert db.execute("SELECT min(id) FROM prompts").fetchone()[0] == 1
    assert db.execute("SELECT min(id) FROM household_members").fetchone()[0] == 1
    new_id = db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at) VALUES ('manual', 'front_door', now()) RETURNING id"
    ).fetchone()[0]
    assert new_id == 1501
    fewer = generate_demo_data(db, 300)
    assert fewer["events"] == 300 and _counts(db) == fewer


def test_schema_ends_identical(db: psycopg.Connection) -> None:
    before = _schema(db)
    assert any(name == "idx_events_search_vector" for _, name, _ in before[0])
    generate_demo_data(db, 500)
    assert _schema(db) == before
    invalid = db.execute(
        "SELECT count(*) FROM pg_index WHERE indrelid = ANY (%s::regclass[]) AND NOT (indisvalid AND indisready)",
        [list(APP_TABLES)],
    ).fetchone()[0]
    assert invalid == 0


def test_progress_is_reported_in_order(db: psycopg.Connection) -> None:
    seen: list[tuple[str, int]] = []
    generate_demo_data(db, 300, lambda step, percent: seen.append((step, percent)))
    percents = [p for _, p in seen]
    assert percents == sorted(percents) and percents[0] == 0 and percents[-1] == 100
    assert any("events" in step for step, _ in seen)


def test_zero_events_and_bad_input(db: psycopg.Connection) -> None:
    counts = generate_demo_data(db, 0)
    assert counts["events"] == counts["alerts"] == 0 and counts["cameras"] == 8
    new_id = db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at) VALUES ('manual', 'front_door', now()) RETURNING id"
    ).fetchone()[0]
    assert new_id == 1
    with pytest.raises(ValueError):
        generate_demo_data(db, -1)


def test_without_the_schema_it_fails_cleanly(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn, pytest.raises(DemoDataError, match="migrate"):
        generate_demo_data(conn, 10)


def _cli(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("backupd")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from backupd.cli import main; sys.exit(main())"]
    )
    env = {**os.environ, "BACKUPD_DATABASE_URL": database_url, "BACKUPD_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(command + args, env=env, capture_output=True, text=True, timeout=300)


def test_cli_generates_and_prints_counts(database_url: str, tmp_path: Path) -> None:
    result = _cli(["demo-data", "--events", "500"], database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[1:]}
    assert lines["events"] == "500" and lines["cameras"] == "8" and set(lines) == set(APP_TABLES)
    assert "generated in" in result.stdout
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 500


def test_cli_migrates_an_empty_database(empty_database_url: str, tmp_path: Path) -> None:
    result = _cli(["demo-data", "--events", "50"], empty_database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    with connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 50


def test_cli_rejects_a_negative_count(database_url: str, tmp_path: Path) -> None:
    result = _cli(["demo-data", "--events", "-5"], database_url, tmp_path)
    assert result.returncode == 2 and "--events" in result.stderr
