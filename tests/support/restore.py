"""Shared helpers for the restore and drill tests: adversarial data, snapshots, exact comparison."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from backupd import DEFAULT_TABLES
from backupd.db.catalog import describe_tables

# Values chosen to break naive JSON/COPY handling (docs/restore-guarantees.md).
ADVERSARIAL_SQL = r"""
INSERT INTO cameras (id, name, folder_path, status, created_at, last_seen_at, deleted_at) VALUES
  ('cam-1', 'Front "door"', E'C:\\cams\\front\n2', 'online', '2024-01-02 03:04:05.123456+00', 'infinity', NULL),
  ('cam-2', E'Back\tyard \u00e9\U0001F600', '/data/back', 'offline', '2024-02-29 23:59:59.999999+05:30', '-infinity', '2024-03-01'),
  ('cam-3', E'ctl \x01\x1f end', '/data/c3', 'error', '0001-01-01 00:00:00+00 BC', NULL, NULL);

INSERT INTO events (batch_id, camera_id, started_at, ended_at, risk_score, risk_level, summary, reasoning,
                    llm_prompt, notes, reviewed, object_types, clip_path, search_vector, entities, flags,
                    confidence_factors, recommended_action, flagged) VALUES
  ('b1', 'cam-1', '-infinity', 'infinity', 0, 'low', E'line1\nline2\r\nline3', E'back\\slash "quoted" \'single\'',
   NULL, '', true, 'person', '/clips/1.mp4', $$'a b':1A 'it''s':2 'back\\slash':3 plain$$,
   'null', NULL, '{"a" : 1,   "b": [1, 2.50, -0, 1e-7]}', NULL, true),
  ('b1', 'cam-2', '2024-06-01 12:00:00+00', NULL, 100, 'critical', E'\u00fcnic\u00f8de \U0001F4A9', NULL,
   E'{"not": "json"', NULL, false, NULL, NULL, NULL,
   '{"k": "\\u0000 escaped text, not a NUL", "n": 12345678901234567890.123}', '[]', '{}', 'call "911"', false),
  ('b2', 'cam-3', '2024-06-01 12:00:00.5+00', '2024-06-01 12:00:01+00', 55, 'medium', NULL, NULL,
   NULL, NULL, false, NULL, NULL, to_tsvector('english', 'The quick brown foxes jumped'),
   '"just a string"', 'true', 'null', NULL, false);

INSERT INTO alerts (id, event_id, rule_id, severity, status, created_at, updated_at, delivered_at, channels,
                    dedup_key, metadata, version_id) VALUES
  ('00000000-0000-0000-0000-000000000001', 1, NULL, 'low', 'pending', '2024-01-01', '2024-01-01', NULL,
   '{"a" : 1, "a": 2}', 'dup-keys', 'null', 1),
  ('00000000-0000-0000-0000-000000000002', 1, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'critical', 'dismissed',
   '2024-01-01', '2024-01-02', 'infinity', E'[\n  "push",\n\t"email"\n]', 'multi-line', '"\u0000"', 7),
  ('00000000-0000-0000-0000-000000000003', 2, NULL, 'high', 'delivered', '2024-01-01', '2024-01-02', NULL,
   NULL, E'sql-null \\N', '  {"x": "\"q\" \\ \u00e9 é"}  ', 2),
  ('00000000-0000-0000-0000-000000000004', 3, NULL, 'medium', 'acknowledged', '2024-01-01', '2024-01-02', NULL,
   '[1e400, -0, 0.1]', 'numbers', '{"deep": {"er": [null, {"x": []}]}}', 3);

INSERT INTO zones (id, camera_id, name, zone_type, coordinates, shape, color, enabled, priority) VALUES
  ('z-1', 'cam-1', 'Porch', 'entry_point', '[[0.1, 0.2], [0.30000000000000004, 1e-9]]', 'polygon', '#ABCDEF', true, 3),
  ('z-2', 'cam-2', E'Drive\nway', 'driveway', '{"x": 0, "y": -0.0}', 'rectangle', '#000000', false, 0);

INSERT INTO prompts (model, system_prompt, temperature, max_tokens, version) VALUES
  ('nan', E'You are \\"careful\\"\n', 'NaN', 1, 1),
  ('inf', 'x', 'Infinity', 2048, 2),
  ('-inf', 'x', '-Infinity', 2048, 3),
  ('neg-zero', 'x', '-0', 2048, 4),
  ('denormal', 'x', 1e-320, 2048, 5),
  ('point-three', 'x', 0.1::float8 + 0.2::float8, 2048, 6),
  ('max', 'x', 1.7976931348623157e308, 2048, 7);

INSERT INTO baselines (camera_id, hour, day_of_week, avg_count, sample_count) VALUES
  ('cam-1', 0, 0, 0.1, 1), ('cam-1', 23, 6, -0, 0), ('cam-2', 12, 3, 'NaN', 5), ('cam-3', 1, 1, 4.9e-324, 9);

INSERT INTO household_members (name, role, trusted_level, typical_schedule, notes) VALUES
  ('Ann', 'resident', 'full', '{"mon": ["09:00", "17:00"]}', NULL),
  ('Bob "the builder"', 'service_worker', 'monitor', 'null', E'tab\there'),
  ('Cy', 'family', 'partial', NULL, '');

INSERT INTO settings (key, value) VALUES
  ('s-null', 'null'), ('s-string', '"a\"b\\c"'), ('s-array', '[1, "two", null, 3.0]'),
  ('s-object', '{"b": 1, "a": {"c": "é"}}'), ('s-true', 'true'), ('s-num', '-0.000');
"""


def fill_adversarial(conn: psycopg.Connection) -> None:
    conn.execute(ADVERSARIAL_SQL)


def fill_volume(conn: psycopg.Connection, events: int, alerts_every: int = 5) -> None:
    """Plain bulk data (for swap timing, readers and kills)."""
    conn.execute(
        "INSERT INTO cameras (id, name, folder_path) SELECT 'vol-' || g, 'Vol ' || g, '/vol/' || g"
        " FROM generate_series(1, 4) g ON CONFLICT DO NOTHING"
    )
    conn.execute(
        "INSERT INTO events (batch_id, camera_id, started_at, summary, search_vector, entities)"
        " SELECT 'vb' || g, 'vol-' || (1 + g %% 4), timestamptz '2025-01-01' + g * interval '1 minute',"
        " 'Person near the door, event ' || g, to_tsvector('english', 'person near door ' || g),"
        " jsonb_build_object('n', g) FROM generate_series(1, %s) g",
        [events],
    )
    conn.execute(
        "INSERT INTO alerts (id, event_id, dedup_key, channels)"
        " SELECT gen_random_uuid(), e.id, 'vd' || e.id, '[\"push\"]' FROM events e WHERE e.id %% %s = 0"
        " AND e.batch_id LIKE 'vb%%'",
        [alerts_every],
    )


def snapshot(conn: psycopg.Connection, tables: Sequence[str] = DEFAULT_TABLES) -> dict[str, list[str]]:
    """Every row of every table as text, in a stable order (for before/after equality)."""
    result: dict[str, list[str]] = {}
    for table in describe_tables(conn, list(tables)):
        rows = conn.execute(sql.SQL("SELECT t::text FROM ONLY {} AS t ORDER BY 1").format(table.ident)).fetchall()
        result[table.key] = [r[0] for r in rows]
    return result


def copy_to_schema(conn: psycopg.Connection, schema: str, tables: Sequence[str] = DEFAULT_TABLES) -> None:
    """Keep an exact copy of the tables (same column types) to compare against later."""
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    for table in describe_tables(conn, list(tables)):
        conn.execute(
            sql.SQL("CREATE TABLE {} AS SELECT * FROM ONLY {}").format(sql.Identifier(schema, table.name), table.ident)
        )


def differences(conn: psycopg.Connection, schema: str, tables: Sequence[str] = DEFAULT_TABLES) -> list[str]:
    """Column by column, rows whose value differs from the copy in `schema`.

    Each column must be IS NOT DISTINCT FROM (when its type has equality) and have the same ::text.
    """
    problems: list[str] = []
    for table in describe_tables(conn, list(tables)):
        pk = table.primary_key
        join = sql.SQL(" AND ").join(sql.SQL("a.{0} = b.{0}").format(sql.Identifier(k)) for k in pk)
        missing = conn.execute(
            sql.SQL("SELECT count(*) FROM ONLY {} a FULL JOIN {} b ON {} WHERE a.{} IS NULL OR b.{} IS NULL").format(
                table.ident, sql.Identifier(schema, table.name), join, sql.Identifier(pk[0]), sql.Identifier(pk[0])
            )
        ).fetchone()[0]
        if missing:
            problems.append(f"{table.key}: {missing} rows only on one side")
        for col in table.columns:
            ident = sql.Identifier(col.name)
            checks = [sql.SQL("a.{0}::text IS DISTINCT FROM b.{0}::text").format(ident)]
            if col.base_type != "json":
                checks.append(sql.SQL("a.{0} IS DISTINCT FROM b.{0}").format(ident))
            bad = conn.execute(
                sql.SQL("SELECT count(*) FROM ONLY {} a JOIN {} b ON {} WHERE {}").format(
                    table.ident, sql.Identifier(schema, table.name), join, sql.SQL(" OR ").join(checks)
                )
            ).fetchone()[0]
            if bad:
                problems.append(f"{table.key}.{col.name}: {bad} rows differ")
    return problems


def staging_schema_exists(conn: psycopg.Connection) -> bool:
    """Any of the restore's private schemas (shadow tables, old tables) left behind?"""
    return conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname ~ '^backupd_(staging|old)'").fetchone()[0] > 0


def rewrite_archive(src: Path, dst: Path, replace: dict[str, bytes | None], manifest: bytes | None = None) -> None:
    """Copy an archive, replacing (or with None, dropping) members; the manifest as given or kept."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            name = info.filename
            if name == "manifest.json" and manifest is not None:
                zout.writestr(name, manifest)
            elif name in replace:
                if replace[name] is not None:
                    zout.writestr(name, replace[name])
            else:
                zout.writestr(name, zin.read(name))


def copy_file(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def env_without_test_vars() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("BACKUPD_TABLES", "BACKUPD_DATABASE_URL", "DATABASE_URL"):
        env.pop(key, None)
    return env
