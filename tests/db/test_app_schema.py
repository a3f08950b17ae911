"""backupd beside an application it did not create (docs/operations.md, "Beside an application").

The schema here is deliberately not the demo schema: nine tables named like the real
application's, with its own `backup_jobs` and `restore_jobs` (other columns, a running row),
triggers that rewrite columns and log to another table, a view, arrays with lower bounds other
than 1, enums, a domain, identity, serial and generated columns, and a set that is not closed
under foreign keys (three parents stay outside it). Every command runs on it, with and without
a prior `migrate`; before/after snapshots cover every schema except `backupd`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from backupd.cli import main
from backupd.config import Settings
from backupd.db.connection import connect
from backupd.db.migrations import apply_migrations, migration_files
from backupd.jobs import reap_orphaned_jobs
from tests.support.api import ApiServer, poll
from tests.support.database import create_database, drop_database, url_for_database

TABLES = (
    "events",
    "alerts",
    "cameras",
    "camera_zones",
    "prompt_configs",
    "activity_baselines",
    "class_baselines",
    "household_members",
    "system_settings",
)
PARENTS = ("households", "properties", "alert_rules")  # referenced by the set, outside it
APP_BACKUP_JOB = "0190aaaa-0000-7000-8000-000000000001"
APP_RESTORE_JOB = "0190aaaa-0000-7000-8000-000000000002"
WARNINGS = [
    "alerts references alert_rules, which is not in the backup",
    "cameras references properties, which is not in the backup",
    "household_members references households, which is not in the backup",
]

PARENT_SCHEMA = """
CREATE TABLE households (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE properties (id serial PRIMARY KEY, household_id int NOT NULL REFERENCES households, address text);
CREATE TABLE alert_rules (id uuid PRIMARY KEY, name text NOT NULL);
INSERT INTO households (name) VALUES ('Home'), ('Cabin');
INSERT INTO properties (household_id, address) VALUES (1, '1 Main St'), (2, 'Lake Rd');
INSERT INTO alert_rules VALUES ('00000000-0000-4000-8000-00000000000a', 'night'),
                               ('00000000-0000-4000-8000-00000000000b', 'package');
"""

APP_SCHEMA = """
CREATE TYPE event_kind AS ENUM ('motion', 'person', 'vehicle', 'package');
CREATE DOMAIN email_address AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE TABLE cameras (id text PRIMARY KEY, property_id int NOT NULL REFERENCES properties,
    name text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000) PRIMARY KEY,
    camera_id text NOT NULL REFERENCES cameras ON DELETE CASCADE,
    kind event_kind NOT NULL DEFAULT 'motion',
    started_at timestamptz NOT NULL,
    summary text,
    search_vector tsvector,
    tags int[],
    risk numeric(5,2),
    risk_band text GENERATED ALWAYS AS (CASE WHEN risk >= 50 THEN 'high' ELSE 'low' END) STORED,
    updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX events_search ON events USING gin (search_vector);
CREATE INDEX events_camera_started ON events (camera_id, started_at DESC);
COMMENT ON TABLE events IS 'what the cameras saw';
CREATE TABLE alerts (id uuid PRIMARY KEY, event_id bigint NOT NULL REFERENCES events ON DELETE CASCADE,
    rule_id uuid REFERENCES alert_rules, status text NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE camera_zones (camera_id text REFERENCES cameras ON DELETE CASCADE, zone_no int,
    polygon jsonb NOT NULL, PRIMARY KEY (camera_id, zone_no));
CREATE TABLE prompt_configs (id serial PRIMARY KEY, model varchar(50) NOT NULL UNIQUE,
    temperature double precision NOT NULL DEFAULT 0.7, config json);
CREATE TABLE activity_baselines (camera_id text REFERENCES cameras, hour smallint CHECK (hour BETWEEN 0 AND 23),
    avg_count double precision NOT NULL, PRIMARY KEY (camera_id, hour));
CREATE TABLE class_baselines (id serial PRIMARY KEY, camera_id text NOT NULL REFERENCES cameras,
    class_name text NOT NULL, frequency real);
CREATE TABLE household_members (id serial PRIMARY KEY, household_id int NOT NULL REFERENCES households,
    name varchar(100) NOT NULL, email email_address, roles event_kind[]);
CREATE TABLE system_settings (key varchar(64) PRIMARY KEY, value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now());

-- The application's own job tables (its migrations 0003/0004), with a job running.
CREATE TABLE backup_jobs (id uuid PRIMARY KEY, status varchar(20) NOT NULL, requested_by text,
    created_at timestamptz NOT NULL DEFAULT now(), note text);
CREATE TABLE restore_jobs (id uuid PRIMARY KEY, status varchar(20) NOT NULL, source text);

-- Triggers that rewrite restored columns, and log to a table outside the set.
CREATE TABLE audit_log (id bigserial PRIMARY KEY, table_name text, op text, row_id text);
CREATE FUNCTION events_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.search_vector := to_tsvector('simple', coalesce(NEW.summary, '')); NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER events_search BEFORE INSERT OR UPDATE ON events FOR EACH ROW EXECUTE FUNCTION events_search_vector();
CREATE FUNCTION log_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log (table_name, op, row_id)
      VALUES (TG_TABLE_NAME, TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.id::text ELSE NEW.id::text END);
      RETURN NULL; END $$;
CREATE TRIGGER events_log AFTER INSERT OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION log_row();
CREATE TRIGGER alerts_log AFTER INSERT OR DELETE ON alerts FOR EACH ROW EXECUTE FUNCTION log_row();
ALTER TABLE alerts ENABLE ALWAYS TRIGGER alerts_log;
CREATE FUNCTION log_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log (table_name, op, row_id) VALUES (TG_TABLE_NAME, TG_OP, 'statement'); RETURN NULL; END $$;
CREATE TRIGGER settings_log AFTER INSERT OR UPDATE OR DELETE ON system_settings
    FOR EACH STATEMENT EXECUTE FUNCTION log_statement();
CREATE VIEW recent_events AS SELECT id, camera_id, started_at FROM events;
"""

APP_DATA = """
INSERT INTO cameras (id, property_id, name) VALUES ('front', 1, 'Front door'), ('yard', 1, 'Yard'), ('dock', 2, 'Dock');
INSERT INTO events (camera_id, kind, started_at, summary, tags, risk)
SELECT (ARRAY['front', 'yard', 'dock'])[1 + i % 3], (ARRAY['motion', 'person', 'vehicle', 'package'])[1 + i % 4]::event_kind,
       '2026-11-01 00:00:00+00'::timestamptz + i * interval '7 minutes', 'event ' || i || E' line\\n"quoted"',
       CASE i % 4 WHEN 0 THEN '[0:2]={7,8,9}'::int[] WHEN 1 THEN '{1,NULL,3}' WHEN 2 THEN '{}' END, i * 1.25
FROM generate_series(1, 60) AS i;
INSERT INTO alerts (id, event_id, rule_id, status)
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 999 + i,
       CASE WHEN i % 2 = 0 THEN '00000000-0000-4000-8000-00000000000a'::uuid END, 'delivered'
FROM generate_series(1, 20) AS i;
INSERT INTO camera_zones VALUES ('front', 1, '{"points": [[0, 0], [1, 1]]}'), ('yard', 1, 'null'), ('yard', 2, '[]');
INSERT INTO prompt_configs (model, config) VALUES ('gpt', '{"a" : 1, "a": 2}'), ('local', NULL);
INSERT INTO activity_baselines VALUES ('front', 0, 1.5), ('front', 23, 0.1), ('dock', 12, 3);
INSERT INTO class_baselines (camera_id, class_name, frequency) VALUES ('yard', 'cat', 0.25), ('dock', 'boat', 1e-7);
INSERT INTO household_members (household_id, name, email, roles)
VALUES (1, 'Ann', 'ann@example.com', '{person}'), (2, 'Bo', NULL, '[2:3]={vehicle,package}');
INSERT INTO system_settings (key, value) VALUES ('theme', '"dark"'), ('quiet', 'null'), ('limits', '{"max": 5}');
-- Values the trigger would not compute: a restore that lets it fire changes them.
ALTER TABLE events DISABLE TRIGGER events_search;
UPDATE events SET search_vector = to_tsvector('english', summary) || 'custom:1'::tsvector,
                  updated_at = '2020-01-01 00:00:00+00';
ALTER TABLE events ENABLE TRIGGER events_search;
INSERT INTO backup_jobs (id, status, requested_by, note) VALUES ('0190aaaa-0000-7000-8000-000000000001', 'running', 'app', 'nightly');
INSERT INTO restore_jobs (id, status, source) VALUES ('0190aaaa-0000-7000-8000-000000000002', 'running', 'upload');
"""


def build_app_database(url: str, *, matview: bool = False, parents_only: bool = False) -> None:
    with connect(url) as conn:
        conn.execute(PARENT_SCHEMA)
        if parents_only:
            return
        conn.execute(APP_SCHEMA)
        conn.execute(APP_DATA)
        if matview:  # the catalog swap cannot carry it: the restore replaces the rows in place
            conn.execute("CREATE MATERIALIZED VIEW event_counts AS SELECT camera_id, count(*) FROM events GROUP BY 1")


def catalog(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every object of every schema but backupd's (and the system's), by name, as the server prints it."""
    ours = "n.nspname NOT IN ('backupd', 'pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'"
    queries = {
        "schemas": "SELECT n.nspname FROM pg_namespace n WHERE " + ours,
        "relations": "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE " + ours,
        "columns": "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,"
        " a.attgenerated, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm') AND " + ours,
        "constraints": "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
        " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " + ours,
        "indexes": "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'i' AND " + ours,
        "triggers": "SELECT c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE NOT t.tgisinternal AND " + ours,
        "types": "SELECT n.nspname, t.typname, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE t.typtype IN ('e', 'd') AND " + ours,
        "views": "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('v', 'm') AND " + ours,
        "comments": "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE obj_description(c.oid, 'pg_class') IS NOT NULL"
        " AND " + ours,
    }
    return {name: sorted(conn.execute(query).fetchall(), key=repr) for name, query in queries.items()}


def rows(conn: psycopg.Connection, tables: tuple[str, ...]) -> dict[str, list[str]]:
    """Every row of each table as PostgreSQL's text of the whole row (array bounds included)."""
    return {t: [r[0] for r in conn.execute(f"SELECT t::text FROM {t} AS t ORDER BY 1")] for t in tables}


OUTSIDE = ("backup_jobs", "restore_jobs", "audit_log", *PARENTS)


def everything(conn: psycopg.Connection) -> tuple[dict[str, Any], dict[str, list[str]]]:
    return catalog(conn), rows(conn, TABLES + OUTSIDE)


def has_backupd_schema(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regnamespace('backupd') IS NOT NULL").fetchone()[0]


@pytest.fixture
def app_url(empty_database_url: str) -> str:
    build_app_database(empty_database_url)
    return empty_database_url


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The application's table set and a store of this test's own; returns the store."""
    store = tmp_path / "store"
    monkeypatch.setenv("BACKUPD_TABLES", ",".join(TABLES))
    monkeypatch.setenv("BACKUPD_STORE", str(store))
    monkeypatch.setenv("BACKUPD_DATA_DIR", str(tmp_path / "data"))
    for name in ("BACKUPD_ENCRYPT_TO", "BACKUPD_AGE_IDENTITY_FILE", "BACKUPD_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return store


@pytest.fixture
def fresh_url(pg_server_url: str) -> Iterator[Any]:
    """Makes further empty databases (dropped at the end)."""
    names: list[str] = []

    def make() -> str:
        names.append(create_database(pg_server_url, template="template0"))
        return url_for_database(pg_server_url, names[-1])

    yield make
    for name in names:
        drop_database(pg_server_url, name)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------------------------
# migrate, backup


def test_migrate_creates_only_schema_backupd(app_url: str, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with connect(app_url) as conn:
        before = everything(conn)
        code, out, err = cli(capsys, "--database-url", app_url, "migrate")
        assert (code, err) == (0, ""), err
        names = [path.name for path in migration_files()]  # 0001_backupd_schema.sql first
        assert out.startswith(f"applied {len(names)} migration(s): {', '.join(names)}")
        assert everything(conn) == before  # no demo table, no ALTER of the application's job tables
        assert conn.execute("SELECT count(*) FROM backupd.backup_jobs").fetchone()[0] == 0
        code, out, _ = cli(capsys, "--database-url", app_url, "migrate")
        assert (code, out.strip()) == (0, "schema backupd is up to date")


@pytest.mark.parametrize("migrated", [False, True], ids=["fresh", "migrated"])
def test_backup_into_the_store_has_a_job_row_and_warns(
    app_url: str, env: Path, migrated: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(app_url) as conn:
        if migrated:
            apply_migrations(conn)
        before = everything(conn)
        code, out, err = cli(capsys, "--database-url", app_url, "backup")
        assert code == 0, err
        assert err.splitlines() == [
            "backupd: warning: the table set is not closed under foreign keys: "
            + "; ".join(WARNINGS)
            + " (restore it where those tables exist, or add them to BACKUPD_TABLES)"
        ]
        assert everything(conn) == before
        job = conn.execute(
            "SELECT id::text, status::text, trigger, file_path, manifest_json FROM backupd.backup_jobs"
        ).fetchall()
        assert len(job) == 1 and job[0][1:3] == ("completed", "manual")
        assert job[0][3] in out and Path(job[0][3]).parent == env
        assert job[0][4]["warnings"] == WARNINGS and job[0][4]["version"] == "1.1"
        assert set(job[0][4]["contents"]) == set(TABLES)


def test_backup_to_a_file_needs_no_schema(
    app_url: str, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "--database-url", app_url, "backup", "-o", str(tmp_path / "a.zip"))
    assert code == 0, err
    with connect(app_url) as conn:
        assert not has_backupd_schema(conn)
    code, _, err = cli(capsys, "verify", str(tmp_path / "a.zip"))
    assert code == 0, err


def test_backupds_own_tables_are_never_backed_up(
    app_url: str, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(app_url) as conn:
        apply_migrations(conn)
    monkeypatch.setenv("BACKUPD_TABLES", "system_settings,backupd.backup_jobs")
    code, _, err = cli(capsys, "--database-url", app_url, "backup", "-o", str(tmp_path / "x.zip"))
    assert (code, err) == (
        1,
        "backupd: error: backupd.backup_jobs is one of backupd's own tables, never part of a backup or restore\n",
    )
    assert not (tmp_path / "x.zip").exists()


# --------------------------------------------------------------------------------------------
# restore: both swap paths, exact, no trigger fires


@pytest.mark.parametrize("matview", [False, True], ids=["catalog", "in-place"])
def test_restore_is_exact_on_both_paths(
    empty_database_url: str, env: Path, tmp_path: Path, matview: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    url = empty_database_url
    build_app_database(url, matview=matview)
    archive = tmp_path / "app.zip"
    assert cli(capsys, "--database-url", url, "backup", "-o", str(archive))[0] == 0
    with connect(url) as conn:
        original_catalog, original = catalog(conn), rows(conn, TABLES + OUTSIDE)
        conn.execute("UPDATE events SET summary = 'changed', tags = '{5}' WHERE id % 3 = 0")
        conn.execute("DELETE FROM alerts WHERE event_id > 1010")
        conn.execute("INSERT INTO camera_zones VALUES ('dock', 9, '{}')")
        conn.execute("UPDATE system_settings SET value = '\"light\"' WHERE key = 'theme'")
        conn.execute("DELETE FROM household_members WHERE name = 'Bo'")
        logged = rows(conn, ("audit_log",))
        code, out, err = cli(capsys, "--database-url", url, "restore", str(archive), "--yes")
        assert code == 0, err
        assert ("rows replaced in place" in out) == matview, out
        assert rows(conn, TABLES) == {t: original[t] for t in TABLES}  # search_vector, updated_at, bounds too
        assert rows(conn, ("audit_log",)) == logged  # no trigger of the application fired
        assert rows(conn, OUTSIDE) == {t: original[t] for t in OUTSIDE} | logged
        assert catalog(conn) == original_catalog  # triggers enabled exactly as before
        safety = conn.execute("SELECT status::text, trigger FROM backupd.backup_jobs").fetchall()
        assert safety == [("completed", "safety")]
        conn.execute("INSERT INTO events (camera_id, started_at) VALUES ('yard', now())")  # identity moved on
        assert conn.execute("SELECT max(id) FROM events").fetchone()[0] == 1060


def test_dry_run_changes_nothing(app_url: str, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "app.zip"
    assert cli(capsys, "--database-url", app_url, "backup", "-o", str(archive))[0] == 0
    with connect(app_url) as conn:
        conn.execute("DELETE FROM class_baselines")
        before = everything(conn)
        code, out, err = cli(capsys, "--database-url", app_url, "restore", str(archive), "--dry-run")
        assert code == 0, err
        assert re.search(r"class_baselines\s+2\s+0\s+2\s+0\s+0\s+0", out), out
        assert everything(conn) == before and not has_backupd_schema(conn)


def test_export_reads_the_applications_events(app_url: str, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--database-url", app_url, "export", "events", "--since", "2026-11-01T01:00:00Z")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 52  # events 9..60 start at or after 01:00 (7 minutes apart)
    assert '"tags":"[0:2]={7,8,9}"' in lines[3]  # event 12: its bounds travel as text


# --------------------------------------------------------------------------------------------
# the API beside the application's own job tables


def app_server(url: str, tmp_path: Path) -> ApiServer:
    return ApiServer(
        Settings(
            database_url=url,
            data_dir=tmp_path / "data",
            backup_dir=tmp_path / "backups",
            tables=TABLES,
            schedule="off",
            api_key=None,
        )
    ).start()


def finished(body: dict[str, Any]) -> bool:
    return body["status"] in ("completed", "failed")


def test_api_never_reads_the_applications_job_rows(app_url: str, env: Path, tmp_path: Path) -> None:
    with connect(app_url) as conn:
        app_jobs = rows(conn, ("backup_jobs", "restore_jobs"))
        server = app_server(app_url, tmp_path)
        try:
            with server.client() as client:
                assert rows(conn, ("backup_jobs", "restore_jobs")) == app_jobs  # start-up recovery left them
                response = client.get(f"/api/backup/{APP_BACKUP_JOB}")
                assert (response.status_code, response.json()) == (
                    404,
                    {"detail": f"Backup job not found: {APP_BACKUP_JOB}"},
                )
                response = client.get(f"/api/backup/restore/{APP_RESTORE_JOB}")
                assert (response.status_code, response.json()) == (
                    404,
                    {"detail": f"Restore job not found: {APP_RESTORE_JOB}"},
                )
                assert client.delete(f"/api/backup/{APP_BACKUP_JOB}").status_code == 404
                assert client.get("/api/backup").json() == {"backups": [], "total": 0}
                started = client.post("/api/backup")
                assert started.status_code == 202, started.text
                job = poll(client, f"/api/backup/{started.json()['job_id']}", until=finished)[-1]
                assert job["status"] == "completed" and job["warnings"] == WARNINGS
                conn.execute(
                    "INSERT INTO backup_jobs (id, status) VALUES ('0190aaaa-0000-7000-8000-000000000003', 'pending')"
                )  # the application starts a job while backupd serves
                app_jobs = rows(conn, ("backup_jobs", "restore_jobs"))
                assert reap_orphaned_jobs(server.services.jobs, server.services.archives) == []
                pruned = client.post("/api/backup/prune?dry_run=false")
                assert pruned.status_code == 200 and [k["id"] for k in pruned.json()["kept"]] == [job["id"]]
                restore = client.post(f"/api/backup/{job['id']}/restore", json={})
                assert restore.status_code == 202, restore.text
                done = poll(client, f"/api/backup/restore/{restore.json()['job_id']}", until=finished, timeout=120)[-1]
                assert done["status"] == "completed", done
                assert rows(conn, ("backup_jobs", "restore_jobs")) == app_jobs
                listed = [b["trigger"] for b in client.get("/api/backup").json()["backups"]]
                assert listed == ["safety", "manual"]
        finally:
            server.stop()


# --------------------------------------------------------------------------------------------
# into an empty database: drill, restore --latest


def test_drill_into_an_empty_database(
    app_url: str, env: Path, fresh_url: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "--database-url", app_url, "backup")[0] == 0
    empty = fresh_url()
    code, out, err = cli(capsys, "--database-url", app_url, "drill", "--latest", "--database-url", empty)
    assert code == 1
    assert re.search(
        r"error: cannot recreate \w+: it references public\.(households|properties|alert_rules),"
        r" which is neither in the archive nor in the database",
        out,
    ), out
    with connect(empty) as conn:
        assert catalog(conn) == catalog_of_empty(conn)  # the failed drill left nothing behind
    staging = fresh_url()
    build_app_database(staging, parents_only=True)
    code, out, err = cli(capsys, "--database-url", app_url, "drill", "--latest", "--database-url", staging)
    assert code == 0, out + err
    assert "PASS" in out and "created from the archive's definitions: " in out
    with connect(app_url) as source, connect(staging) as target:
        assert rows(target, TABLES) == rows(source, TABLES)
        assert table_definitions(target) == table_definitions(source)


def catalog_of_empty(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {k: [("public",)] if k == "schemas" else [] for k in catalog(conn)}


def table_definitions(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """What an archive carries of the set: columns, keys, checks, indexes, types, comments (no
    triggers, views or functions: docs/restore-guarantees.md lists what is not recreated)."""
    snap = catalog(conn)
    keep = set(TABLES) | {f"{t}_pkey" for t in TABLES}

    def of_set(row: tuple[Any, ...]) -> bool:
        return row[0] in TABLES

    return {
        "columns": [r for r in snap["columns"] if of_set(r)],
        "constraints": [r for r in snap["constraints"] if of_set(r)],
        "indexes": [r for r in snap["indexes"] if r[0] in keep or any(f" ON public.{t} " in r[1] for t in TABLES)],
        "types": snap["types"],
        "comments": [r for r in snap["comments"] if of_set(r)],
    }


def test_restore_latest_into_an_empty_database(
    app_url: str, env: Path, fresh_url: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "--database-url", app_url, "backup")[0] == 0
    target = fresh_url()
    build_app_database(target, parents_only=True)  # the three tables the set references
    code, out, err = cli(capsys, "--database-url", target, "restore", "--latest", "--yes")
    assert code == 0, err
    assert "created 9 missing table(s) from the archive's definitions" in out
    assert "not created (an archive does not carry them): " in out and "triggers" in out
    with connect(app_url) as source, connect(target) as conn:
        assert rows(conn, TABLES) == rows(source, TABLES)
        assert table_definitions(conn) == table_definitions(source)
        conn.execute("INSERT INTO events (camera_id, started_at) VALUES ('yard', now())")
        assert conn.execute("SELECT max(id) FROM events").fetchone()[0] == 1060
        conn.execute("INSERT INTO prompt_configs (model) VALUES ('new')")  # serial moved past the ids
        # no safety backup of tables that did not exist: backupd's schema is not even needed
        assert not has_backupd_schema(conn)


# --------------------------------------------------------------------------------------------
# an installation of the old layout (job tables in public)


LEGACY_SQL = (Path(__file__).parents[1] / "data" / "legacy_public_layout.sql").read_text()


def test_old_installation_moves_into_schema_backupd(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        conn.execute(LEGACY_SQL)
        conn.execute(
            "INSERT INTO backup_jobs (id, status, trigger, pinned, file_path, manifest_json)"
            " VALUES ('0190bbbb-0000-7000-8000-000000000001', 'completed', 'schedule', true, '/x.zip', '{}')"
        )
        conn.execute(
            "INSERT INTO restore_jobs (id, status, dry_run) VALUES"
            " ('0190bbbb-0000-7000-8000-000000000002', 'failed', true)"
        )
        conn.execute("INSERT INTO backupd_schedule (schedule, keep_last) VALUES ('0 3 * * *', 2)")
        conn.execute(
            "INSERT INTO drill_runs (id, backup_id, status) VALUES"
            " ('0190bbbb-0000-7000-8000-000000000003', '0190bbbb-0000-7000-8000-000000000001', 'passed')"
        )
        assert apply_migrations(conn) == [path.name for path in migration_files()]
        assert conn.execute("SELECT id::text, status::text, trigger, pinned FROM backupd.backup_jobs").fetchall() == [
            ("0190bbbb-0000-7000-8000-000000000001", "completed", "schedule", True)
        ]
        assert conn.execute("SELECT status::text, dry_run FROM backupd.restore_jobs").fetchall() == [("failed", True)]
        assert conn.execute("SELECT schedule, keep_last FROM backupd.schedule_settings").fetchall() == [
            ("0 3 * * *", 2)
        ]
        assert conn.execute("SELECT status FROM backupd.drill_runs").fetchall() == [("passed",)]
        left = conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
        ).fetchall()
        assert left == []
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'e'"
            ).fetchone()[0]
            == 0
        )
        assert apply_migrations(conn) == []


def test_the_applications_job_table_stays_where_it_is(empty_database_url: str) -> None:
    """An old backupd ALTERed an application's backup_jobs that existed before it; it stays the app's."""
    with connect(empty_database_url) as conn:
        conn.execute(
            "CREATE TABLE backup_jobs (id uuid PRIMARY KEY, status varchar(20) NOT NULL,"
            " total_tables int, created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(f"INSERT INTO backup_jobs (id, status) VALUES ('{APP_BACKUP_JOB}', 'running')")
        conn.execute(LEGACY_SQL)
        before = rows(conn, ("public.backup_jobs",))
        apply_migrations(conn)
        assert rows(conn, ("public.backup_jobs",)) == before
        assert conn.execute("SELECT count(*) FROM backupd.backup_jobs").fetchone()[0] == 0
        assert conn.execute("SELECT to_regclass('backupd.restore_jobs') IS NOT NULL").fetchone()[0]


def test_api_answers_on_an_old_installation(empty_database_url: str, tmp_path: Path) -> None:
    with connect(empty_database_url) as conn:
        conn.execute(LEGACY_SQL)
        conn.execute(
            "INSERT INTO backup_jobs (id, status, file_path, file_size_bytes, manifest_json) VALUES"
            " ('0190bbbb-0000-7000-8000-000000000001', 'completed', '/gone.zip', 10, '{}')"
        )
    server = ApiServer(
        Settings(
            database_url=empty_database_url,
            data_dir=tmp_path / "data",
            schedule="off",
            backup_dir=tmp_path / "backups",
            api_key=None,
        )
    ).start()
    try:
        with server.client() as client:
            job = client.get("/api/backup/0190bbbb-0000-7000-8000-000000000001")
            assert job.status_code == 200, job.text
            assert (job.json()["status"], job.json()["file_size_bytes"]) == ("completed", 10)
    finally:
        server.stop()
