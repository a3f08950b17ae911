"""What PostgreSQL 17 and 18 let a table carry goes through backup, restore (catalog swap and
in-place swap), dry run and drill unchanged (docs/operations.md, issue 23).

PostgreSQL 18: virtual generated columns (the default for GENERATED ALWAYS AS, NOT NULL ones too),
NOT NULL constraints with names, NOT VALID and NO INHERIT (rows of type 'n' in pg_constraint),
NOT ENFORCED CHECK and foreign keys, uuidv7() defaults, temporal keys (WITHOUT OVERLAPS / PERIOD).
These need an 18 server: `make test` runs them on the embedded one; on older servers they skip.
NOT VALID CHECK constraints and extended statistics targets (pg_statistic_ext.stxstattarget,
nullable from 17 on) are tested on every version.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.drill.run import run_drill
from backupd.restore.engine import restore_from_backup

TABLES = ["accounts", "orders"]

SCHEMA = """
CREATE TABLE accounts (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    email text,
    name text,
    shout text GENERATED ALWAYS AS (upper(name) || '!') NOT NULL,  -- virtual: 18's default
    name_length int GENERATED ALWAYS AS (length(name)) STORED,
    score int,
    tags text[],
    profile jsonb,
    joined timestamptz DEFAULT now()
);
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account uuid,
    total numeric(12, 2),
    net numeric GENERATED ALWAYS AS (total / 1.2),
    CONSTRAINT orders_account_fk FOREIGN KEY (account) REFERENCES accounts NOT ENFORCED
);
"""

# Rows that only NOT VALID / NOT ENFORCED constraints let a table keep: old NULL e-mails, an old
# negative score, an order of an account that does not exist.
ROWS = """
INSERT INTO accounts (id, email, name, score, tags, profile) VALUES
    ('01927a4b-0000-7000-8000-000000000001', NULL, 'ana', -5, '{a,"b c"}', '{"x": null}'),
    ('01927a4b-0000-7000-8000-000000000002', 'bo@example.org', 'Bo "quoted"', 10, NULL, 'null'),
    ('01927a4b-0000-7000-8000-000000000003', NULL, E'Ça\\\\va\\n日本', 5000, '{}', '[1, 2.50]');
INSERT INTO accounts (email, name, score) SELECT 'user' || g || '@example.org', 'user ' || g, g FROM generate_series(1, 200) g;
INSERT INTO orders (account, total) SELECT id, 12.50 FROM accounts;
INSERT INTO orders (account, total) VALUES ('01927a4b-0000-7000-8000-0000000000ff', 1.00);
"""

CONSTRAINTS = """
ALTER TABLE accounts ADD CONSTRAINT accounts_email_required NOT NULL email NOT VALID;
ALTER TABLE accounts ADD CONSTRAINT accounts_name_required NOT NULL name;
ALTER TABLE accounts ADD CONSTRAINT accounts_score_positive CHECK (score > 0) NOT VALID;
ALTER TABLE accounts ADD CONSTRAINT accounts_score_small CHECK (score < 1000) NOT ENFORCED;
ALTER TABLE accounts ADD CONSTRAINT accounts_joined_known NOT NULL joined NO INHERIT;
COMMENT ON CONSTRAINT accounts_email_required ON accounts IS 'new sign-ups only';
"""

CATALOG = """
SELECT 'constraint', conrelid::regclass::text || '.' || conname,
       concat_ws(' | ', contype::text, convalidated::text, conenforced::text, pg_get_constraintdef(oid),
                 obj_description(oid, 'pg_constraint'))
FROM pg_constraint WHERE conrelid = ANY(%(t)s::regclass[])
UNION ALL
SELECT 'column', a.attrelid::regclass::text || '.' || a.attname,
       concat_ws(' | ', format_type(a.atttypid, a.atttypmod), a.attnotnull::text, a.attgenerated::text,
                 a.attidentity::text, pg_get_expr(d.adbin, d.adrelid))
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%(t)s::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
WHERE indrelid = ANY(%(t)s::regclass[])
ORDER BY 1, 2
"""


@pytest.fixture
def needs_18(pg_server_url: str) -> None:
    with psycopg.connect(pg_server_url) as conn:
        version = conn.info.server_version
    if version < 180000:
        pytest.skip(
            f"PostgreSQL 18 features; this server is {version // 10000} (make test runs these on the embedded 18)"
        )


def make_tables(conn: psycopg.Connection, *, rows: bool = True) -> None:
    conn.execute(SCHEMA)
    if rows:
        conn.execute(ROWS)
    conn.execute(CONSTRAINTS)


def rows_as_text(conn: psycopg.Connection, tables: list[str] = TABLES) -> dict[str, list[str]]:
    """Every row of every table as PostgreSQL prints it, generated columns included."""
    return {t: [r[0] for r in conn.execute(f"SELECT x::text FROM {t} x ORDER BY id")] for t in tables}


def catalog(conn: psycopg.Connection, tables: list[str] = TABLES) -> list[tuple[str, str, str]]:
    return conn.execute(CATALOG, {"t": tables}).fetchall()


def scramble(conn: psycopg.Connection) -> None:
    """Change the live rows so that a restore has something to put back."""
    conn.execute("DELETE FROM orders WHERE id % 2 = 0")
    conn.execute("UPDATE accounts SET name = name || ' (renamed)', score = 7 WHERE email IS NOT NULL")
    conn.execute("INSERT INTO accounts (email, name, score) VALUES ('new@example.org', 'new', 1)")


@pytest.mark.usefixtures("needs_18")
def test_virtual_generated_columns_are_exported_like_stored_ones(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    make_tables(db)
    archive = create_backup(database_url, tmp_path / "a.zip", tables=TABLES)
    with zipfile.ZipFile(archive.path) as z:
        first = json.loads(z.read("accounts.jsonl").splitlines()[0])
        manifest = json.loads(z.read("manifest.json"))
    assert first["shout"] == "ANA!" and first["name_length"] == 3  # row_to_json computes the virtual one
    described = {c["name"]: c for c in manifest["contents"]["accounts"].get("columns", [])}
    if described:  # format 1.1 manifests describe the columns: both kinds are marked generated
        assert described["shout"].get("generated") and described["name_length"].get("generated")


@pytest.mark.usefixtures("needs_18")
def test_catalog_swap_keeps_not_valid_and_not_enforced_constraints(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    make_tables(db)
    expected_rows, expected_catalog = rows_as_text(db), catalog(db)
    archive = create_backup(database_url, tmp_path / "a.zip", tables=TABLES).path
    scramble(db)

    result = restore_from_backup(database_url, archive, tables=TABLES)

    assert result.swap_mode == "catalog", result.fallback_reason
    assert rows_as_text(db) == expected_rows
    assert catalog(db) == expected_catalog  # NOT VALID stays NOT VALID, NOT ENFORCED stays NOT ENFORCED
    # The constraints still do their job for new rows, and the defaults still work.
    with pytest.raises(psycopg.errors.NotNullViolation):
        db.execute("INSERT INTO accounts (name) VALUES ('no e-mail')")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO accounts (email, name, score) VALUES ('x@example.org', 'x', -1)")
    new = db.execute(
        "INSERT INTO accounts (email, name, score) VALUES ('x@example.org', 'x', 5000) RETURNING id, shout"
    ).fetchone()
    assert str(new[0])[14] == "7" and new[1] == "X!"  # a version-7 UUID from uuidv7()
    db.execute("INSERT INTO orders (account, total) VALUES (gen_random_uuid(), 1)")  # still NOT ENFORCED


@pytest.mark.usefixtures("needs_18")
def test_in_place_swap_keeps_the_constraints(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    """The in-place swap keeps the live tables, and so their constraints, whatever they are."""
    make_tables(db, rows=False)
    db.execute(
        "INSERT INTO accounts (email, name, score) SELECT 'u' || g, 'user ' || g, g FROM generate_series(1, 50) g"
    )
    db.execute("INSERT INTO orders (account, total) SELECT id, 3 FROM accounts")
    db.execute("CREATE RULE accounts_log AS ON UPDATE TO accounts DO ALSO NOTIFY accounts_changed")
    expected_rows, expected_catalog = rows_as_text(db), catalog(db)
    archive = create_backup(database_url, tmp_path / "a.zip", tables=TABLES).path
    scramble(db)

    result = restore_from_backup(database_url, archive, tables=TABLES)

    assert result.swap_mode == "in place"
    assert rows_as_text(db) == expected_rows
    assert catalog(db) == expected_catalog


@pytest.mark.usefixtures("needs_18")
def test_in_place_swap_of_rows_kept_by_not_valid_constraints(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    make_tables(db)
    db.execute("CREATE RULE accounts_log AS ON UPDATE TO accounts DO ALSO NOTIFY accounts_changed")
    expected_rows, expected_catalog = rows_as_text(db), catalog(db)
    archive = create_backup(database_url, tmp_path / "a.zip", tables=TABLES).path
    scramble(db)
    result = restore_from_backup(database_url, archive, tables=TABLES)
    assert result.swap_mode == "in place"
    assert rows_as_text(db) == expected_rows
    assert catalog(db) == expected_catalog  # still NOT VALID, same names


@pytest.mark.usefixtures("needs_18")
def test_dry_run_stages_rows_kept_by_not_valid_constraints(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    make_tables(db)
    archive = create_backup(database_url, tmp_path / "a.zip", tables=TABLES).path
    scramble(db)
    before_rows, before_catalog = rows_as_text(db), catalog(db)

    result = restore_from_backup(database_url, archive, tables=TABLES, dry_run=True)

    assert result.dry_run and rows_as_text(db) == before_rows and catalog(db) == before_catalog
    accounts = result.changes["accounts"]
    assert (accounts.archive_rows, accounts.live_rows, accounts.added, accounts.removed) == (203, 204, 0, 1)
    assert accounts.changed == 200 + 1  # renamed and rescored, plus 'Bo' (score 10 -> 7, renamed)


@pytest.mark.usefixtures("needs_18")
def test_drill_into_a_database_with_the_same_tables(
    db: psycopg.Connection, database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    make_tables(db)
    archive = create_backup(database_url, tmp_path / "a.zip", tables=TABLES).path
    with psycopg.connect(empty_database_url, autocommit=True) as target:
        make_tables(target, rows=False)

    report = run_drill(empty_database_url, archive)

    assert report.ok, report.error or [t for t in report.tables if not t.ok]
    with psycopg.connect(empty_database_url) as target:
        assert rows_as_text(target) == rows_as_text(db)


@pytest.mark.usefixtures("needs_18")
def test_drill_into_an_empty_database(
    db: psycopg.Connection, database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    """The drill creates the tables from the archive's definitions; the rows must come back exact."""
    make_tables(db)
    archive = create_backup(database_url, tmp_path / "a.zip", tables=TABLES).path

    report = run_drill(empty_database_url, archive)

    assert report.ok, report.error or [t for t in report.tables if not t.ok]
    with psycopg.connect(empty_database_url) as target:
        assert rows_as_text(target) == rows_as_text(db)


@pytest.mark.usefixtures("needs_18")
def test_temporal_keys_survive_the_catalog_swap(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    """PRIMARY KEY … WITHOUT OVERLAPS and FOREIGN KEY … PERIOD (18): a GiST-backed key that cannot
    be built as a plain index first, and a foreign key whose last column is a period."""
    db.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    db.execute("""
        CREATE TABLE rooms (id int, valid daterange, label text,
                            PRIMARY KEY (id, valid WITHOUT OVERLAPS));
        CREATE TABLE bookings (id int PRIMARY KEY, room int, valid daterange,
                               FOREIGN KEY (room, PERIOD valid) REFERENCES rooms (id, PERIOD valid));
        CREATE INDEX rooms_label ON rooms (label);
        INSERT INTO rooms SELECT g % 10, daterange('2026-01-01'::date + (g / 10) * 30, '2026-01-01'::date + (g / 10 + 1) * 30),
                                 'room ' || g FROM generate_series(0, 99) g;
        INSERT INTO bookings SELECT g, g % 10, daterange('2026-01-05'::date + (g / 10) * 30, '2026-01-06'::date + (g / 10) * 30)
                             FROM generate_series(0, 99) g;
    """)
    tables = ["rooms", "bookings"]
    expected_catalog = catalog(db, tables)
    expected_rows = {t: [r[0] for r in db.execute(f"SELECT x::text FROM {t} x ORDER BY 1")] for t in tables}
    archive = create_backup(database_url, tmp_path / "a.zip", tables=tables).path
    db.execute("DELETE FROM bookings WHERE id > 50; UPDATE rooms SET label = 'x'")

    result = restore_from_backup(database_url, archive, tables=tables)

    assert result.swap_mode == "catalog", result.fallback_reason
    assert {t: [r[0] for r in db.execute(f"SELECT x::text FROM {t} x ORDER BY 1")] for t in tables} == expected_rows
    assert catalog(db, tables) == expected_catalog
    with pytest.raises(psycopg.errors.ExclusionViolation):
        db.execute("INSERT INTO rooms VALUES (1, daterange('2026-01-10', '2026-01-11'), 'overlap')")


def test_not_valid_check_survives_the_catalog_swap_on_every_version(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    """CREATE TABLE … LIKE copies a NOT VALID CHECK as valid on every version: the rows it lets the
    table keep must load, and the constraint must come back NOT VALID."""
    db.execute("""
        CREATE TABLE readings (id int PRIMARY KEY, celsius numeric);
        INSERT INTO readings VALUES (1, -300), (2, 21.5), (3, NULL);
        ALTER TABLE readings ADD CONSTRAINT readings_physical CHECK (celsius >= -273.15) NOT VALID;
        COMMENT ON CONSTRAINT readings_physical ON readings IS 'since the sensor fix';
    """)
    query = (
        "SELECT conname, convalidated, pg_get_constraintdef(oid), obj_description(oid, 'pg_constraint')"
        " FROM pg_constraint WHERE conrelid = 'readings'::regclass ORDER BY conname"
    )
    before = db.execute(query).fetchall()
    archive = create_backup(database_url, tmp_path / "a.zip", tables=["readings"]).path
    db.execute("DELETE FROM readings")

    result = restore_from_backup(database_url, archive, tables=["readings"])

    assert result.swap_mode == "catalog", result.fallback_reason
    assert [r[0] for r in db.execute("SELECT x::text FROM readings x ORDER BY id")] == ["(1,-300)", "(2,21.5)", "(3,)"]
    assert db.execute(query).fetchall() == before


def test_extended_statistics_keep_their_target_on_every_version(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    """ALTER STATISTICS … SET STATISTICS (pg_statistic_ext.stxstattarget, NULL by default from 17
    on, -1 before) is not part of pg_get_statisticsobjdef: the catalog swap carries it itself."""
    db.execute("""
        CREATE TABLE sightings (id int PRIMARY KEY, camera text, kind text);
        INSERT INTO sightings SELECT g, 'cam ' || (g % 5), 'kind ' || (g % 3) FROM generate_series(1, 100) g;
        CREATE STATISTICS sightings_camera_kind (ndistinct) ON camera, kind FROM sightings;
        CREATE STATISTICS sightings_default (dependencies) ON camera, kind FROM sightings;
        ALTER STATISTICS sightings_camera_kind SET STATISTICS 321;
    """)
    query = (
        "SELECT stxname, COALESCE(stxstattarget, -1), pg_get_statisticsobjdef(oid) FROM pg_statistic_ext"
        " WHERE stxrelid = 'sightings'::regclass ORDER BY 1"
    )
    before = db.execute(query).fetchall()
    archive = create_backup(database_url, tmp_path / "a.zip", tables=["sightings"]).path

    result = restore_from_backup(database_url, archive, tables=["sightings"])

    assert result.swap_mode == "catalog", result.fallback_reason
    assert db.execute(query).fetchall() == before
