"""The catalog swap carries every kind of object attached to a restored table (issue 13), and
falls back to the in-place swap, with its reason, for what it cannot carry.

Each test compares a fingerprint of the catalog (definitions as PostgreSQL prints them, by name)
before and after a restore that went through the catalog swap.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.errors import RestoreError
from backupd.restore.engine import RestoreResult, restore_from_backup
from tests.support.restore import (
    fill_adversarial,
    fill_volume,
    snapshot,
    staging_schema_exists,
)

TABLES = ("cameras", "zones", "prompts", "baselines", "household_members", "settings", "events", "alerts")

# Everything by name, nothing by OID: what a user would see in \d+ and friends.
FINGERPRINT = """
SELECT 'table', c.relname, concat_ws(' | ', c.reloptions::text, c.relacl::text, c.relrowsecurity::text,
       c.relforcerowsecurity::text, c.relreplident::text, c.relpersistence::text, pg_get_userbyid(c.relowner),
       obj_description(c.oid, 'pg_class'))
FROM pg_class c WHERE c.oid = ANY(%(t)s::regclass[])
UNION ALL
SELECT 'column', c.relname || '.' || a.attname, concat_ws(' | ', format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text, a.attstattarget::text,
       regexp_replace(a.attoptions::text, 'pg_attver=[0-9]+,?', ''), a.attacl::text, a.attstorage::text, col_description(c.oid, a.attnum))
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%(t)s::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'index', i.relname, concat_ws(' | ', pg_get_indexdef(x.indexrelid), x.indisclustered::text, x.indisreplident::text,
       obj_description(i.oid, 'pg_class'), n.nspname)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE x.indrelid = ANY(%(t)s::regclass[])
UNION ALL
SELECT 'constraint', conrelid::regclass::text || '.' || conname, concat_ws(' | ', pg_get_constraintdef(oid), convalidated::text,
       obj_description(oid, 'pg_constraint'))
FROM pg_constraint WHERE conrelid = ANY(%(t)s::regclass[]) OR confrelid = ANY(%(t)s::regclass[])
UNION ALL
SELECT 'trigger', tgname, concat_ws(' | ', pg_get_triggerdef(oid), tgenabled::text) FROM pg_trigger
WHERE tgrelid = ANY(%(t)s::regclass[]) AND NOT tgisinternal
UNION ALL
SELECT 'policy', policyname, concat_ws(' | ', permissive, roles::text, cmd, qual, with_check) FROM pg_policies
WHERE (schemaname || '.' || tablename)::regclass = ANY(%(t)s::regclass[])
UNION ALL
SELECT 'sequence', s.relname, concat_ws(' | ', n.nspname, d.deptype::text, a.attname, q.seqincrement::text, q.seqcache::text)
FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace
JOIN pg_sequence q ON q.seqrelid = s.oid
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.refobjid = ANY(%(t)s::regclass[]) AND d.classid = 'pg_class'::regclass
UNION ALL
SELECT 'statistics', stxname, pg_get_statisticsobjdef(oid) FROM pg_statistic_ext WHERE stxrelid = ANY(%(t)s::regclass[])
UNION ALL
SELECT 'publication', pubname, tablename FROM pg_publication_tables WHERE tablename = ANY(%(names)s)
UNION ALL
SELECT 'view', c.relname, concat_ws(' | ', pg_get_viewdef(c.oid), c.relacl::text, c.oid::text)
FROM pg_class c WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace
ORDER BY 1, 2, 3
"""


def fingerprint(conn: psycopg.Connection, tables: tuple[str, ...] = TABLES) -> list[tuple[str, str, str]]:
    return conn.execute(FINGERPRINT, {"t": list(tables), "names": [t.split(".")[-1] for t in tables]}).fetchall()


def restore(url: str, archive: Path, tables: tuple[str, ...] = TABLES) -> RestoreResult:
    return restore_from_backup(url, archive, tables=list(tables))


@pytest.fixture
def role(db: psycopg.Connection) -> str:
    db.execute("DROP ROLE IF EXISTS backupd_test_viewer")
    db.execute("CREATE ROLE backupd_test_viewer")
    yield "backupd_test_viewer"
    db.execute("DROP OWNED BY backupd_test_viewer")
    db.execute("DROP ROLE backupd_test_viewer")


def test_every_attached_object_survives_the_catalog_swap(
    db: psycopg.Connection, database_url: str, backup_dir: Path, role: str
) -> None:
    fill_adversarial(db)
    fill_volume(db, 300)
    db.execute(f"""
        CREATE TABLE event_audit (event_id int, op text);
        CREATE FUNCTION audit_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO event_audit VALUES (NEW.id, TG_OP); RETURN NEW; END $$;
        CREATE TRIGGER audit AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION audit_event();
        CREATE TRIGGER audit_off AFTER UPDATE ON events FOR EACH ROW EXECUTE FUNCTION audit_event();
        ALTER TABLE events DISABLE TRIGGER audit_off;
        COMMENT ON TABLE events IS 'camera events';
        COMMENT ON COLUMN events.summary IS 'what the model saw';
        COMMENT ON INDEX idx_events_started_at IS 'for the timeline';
        COMMENT ON CONSTRAINT events_ended_after_started ON events IS 'sanity';
        GRANT SELECT ON events TO {role};
        GRANT UPDATE (notes, reviewed) ON events TO {role};
        GRANT SELECT, INSERT ON settings TO {role} WITH GRANT OPTION;
        ALTER TABLE events ENABLE ROW LEVEL SECURITY;
        CREATE POLICY viewer_reads_reviewed ON events FOR SELECT TO {role} USING (reviewed AND deleted_at IS NULL);
        CREATE POLICY everyone_inserts ON events AS RESTRICTIVE FOR INSERT WITH CHECK (risk_score >= 0);
        ALTER TABLE alerts FORCE ROW LEVEL SECURITY;
        ALTER TABLE events ALTER COLUMN camera_id SET STATISTICS 500;
        ALTER TABLE events ALTER COLUMN risk_level SET (n_distinct = 4);
        ALTER TABLE events SET (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.05);
        ALTER TABLE settings SET (autovacuum_enabled = false);
        ALTER TABLE zones REPLICA IDENTITY FULL;
        ALTER TABLE cameras REPLICA IDENTITY USING INDEX cameras_folder_path_key;
        CLUSTER events USING idx_events_started_at;
        CREATE INDEX events_open ON events (camera_id) WHERE ended_at IS NULL;
        CREATE UNIQUE INDEX events_batch_lower ON events (lower(batch_id), id);
        ALTER TABLE prompts ADD CONSTRAINT prompts_model_version UNIQUE (model, version) DEFERRABLE INITIALLY DEFERRED;
        CREATE STATISTICS events_cam_risk (dependencies) ON camera_id, risk_level FROM events;
        CREATE PUBLICATION backupd_test_pub FOR TABLE events, settings;
        CREATE VIEW open_events AS SELECT e.id, e.summary, c.name FROM events e JOIN cameras c ON c.id = e.camera_id
            WHERE e.ended_at IS NULL;
        GRANT SELECT ON open_events TO {role};
    """)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    expected_rows = snapshot(db)
    before = fingerprint(db)
    view_before = db.execute("SELECT count(*), sum(id) FROM open_events").fetchone()
    db.execute("""DELETE FROM alerts; DELETE FROM events WHERE id > 100; UPDATE settings SET value = '"x"'""")
    db.execute("DELETE FROM event_audit")

    result = restore(database_url, archive)

    assert result.swap_mode == "catalog", result.fallback_reason
    assert snapshot(db) == expected_rows
    assert fingerprint(db) == before
    assert db.execute("SELECT count(*), sum(id) FROM open_events").fetchone() == view_before
    # Triggers are built after the rows are in (as pg_restore does): none fired for restored rows.
    assert db.execute("SELECT count(*) FROM event_audit").fetchone()[0] == 0
    new_id = db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at) VALUES ('n', 'cam-1', now()) RETURNING id"
    ).fetchone()[0]
    assert db.execute("SELECT event_id, op FROM event_audit").fetchall() == [(new_id, "INSERT")]
    db.execute("UPDATE events SET notes = 'x' WHERE id = %s", [new_id])  # audit_off stays disabled
    assert db.execute("SELECT count(*) FROM event_audit").fetchone()[0] == 1
    assert not staging_schema_exists(db)
    db.execute("DROP PUBLICATION backupd_test_pub")


def test_outside_foreign_key_is_repointed_and_still_enforced(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    fill_volume(db, 200)
    db.execute("""
        CREATE TABLE detections (id serial PRIMARY KEY, event_id int NOT NULL REFERENCES events (id) ON DELETE CASCADE,
                                 label text);
        INSERT INTO detections (event_id, label) SELECT g, 'person' FROM generate_series(1, 50) g;
    """)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    before = fingerprint(db, (*TABLES, "detections"))
    db.execute("UPDATE events SET summary = 'changed' WHERE id <= 100")

    result = restore(database_url, archive)

    assert result.swap_mode == "catalog", result.fallback_reason
    assert fingerprint(db, (*TABLES, "detections")) == before  # same definition, validated again
    assert db.execute(
        "SELECT confrelid = 'events'::regclass FROM pg_constraint WHERE conname = 'detections_event_id_fkey'"
    ).fetchone()[0]
    assert db.execute("SELECT count(*) FROM detections").fetchone()[0] == 50
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute("INSERT INTO detections (event_id, label) VALUES (999999, 'ghost')")
    db.execute("DELETE FROM events WHERE id = 1")  # ON DELETE CASCADE still acts
    assert db.execute("SELECT count(*) FROM detections").fetchone()[0] == 49


def test_outside_rows_that_would_be_orphaned_refuse_the_catalog_swap(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    fill_volume(db, 100)
    db.execute("CREATE TABLE detections (event_id int REFERENCES events (id), label text)")
    archive = create_backup(database_url, backup_dir / "a.zip").path
    db.execute("INSERT INTO events (batch_id, camera_id, started_at) VALUES ('new', 'vol-1', now())")
    db.execute("INSERT INTO detections VALUES (101, 'on the new event'), (5, 'kept')")
    before = snapshot(db)
    with pytest.raises(RestoreError, match=r"^the restore would delete or orphan 1 rows of detections"):
        restore(database_url, archive)
    assert snapshot(db) == before
    assert db.execute("SELECT count(*) FROM detections").fetchone()[0] == 2
    assert not staging_schema_exists(db)


def test_serial_sequence_keeps_its_identity_and_moves_past_the_restored_ids(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    fill_volume(db, 100)
    seq_oid = db.execute("SELECT 'events_id_seq'::regclass::oid").fetchone()[0]
    archive = create_backup(database_url, backup_dir / "a.zip").path
    db.execute("DELETE FROM alerts; DELETE FROM events")
    restore(database_url, archive)
    assert db.execute("SELECT pg_get_serial_sequence('events', 'id')").fetchone()[0] == "public.events_id_seq"
    assert db.execute("SELECT 'events_id_seq'::regclass::oid").fetchone()[0] == seq_oid  # the same sequence
    assert (
        db.execute(
            "INSERT INTO events (batch_id, camera_id, started_at) VALUES ('n', 'vol-1', now()) RETURNING id"
        ).fetchone()[0]
        == 101
    )


def test_identity_column_and_its_sequence_carry_over(
    db: psycopg.Connection, database_url: str, backup_dir: Path
) -> None:
    db.execute("""
        CREATE SCHEMA shop;
        CREATE TABLE shop.items (id bigint GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 5 CACHE 3) PRIMARY KEY,
                                 name text NOT NULL, doubled bigint GENERATED ALWAYS AS (id * 2) STORED);
        INSERT INTO shop.items (name) SELECT 'item ' || g FROM generate_series(1, 20) g;
        ALTER SEQUENCE shop.items_id_seq RENAME TO item_numbers;
    """)
    tables = ("shop.items",)
    archive = create_backup(database_url, backup_dir / "a.zip", tables=list(tables)).path
    before = fingerprint(db, tables)
    db.execute("INSERT INTO shop.items (name) SELECT 'later ' || g FROM generate_series(1, 5) g")  # ids up to 130
    handed_out = db.execute("SELECT last_value FROM shop.item_numbers").fetchone()[0]  # 130 + what CACHE 3 took
    assert handed_out >= 130
    result = restore(database_url, archive, tables)
    assert result.swap_mode == "catalog", result.fallback_reason
    assert fingerprint(db, tables) == before
    assert db.execute("SELECT count(*), max(id), max(doubled) FROM shop.items").fetchone() == (20, 105, 210)
    # Past the restored ids and past what the old sequence had handed out (never down).
    assert db.execute("INSERT INTO shop.items (name) VALUES ('next') RETURNING id").fetchone()[0] == handed_out + 5


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("CREATE MATERIALIZED VIEW event_count AS SELECT count(*) AS n FROM events", "materialized view event_count"),
        ("CREATE RULE settings_log AS ON UPDATE TO settings DO ALSO NOTIFY settings_changed", "rule settings_log"),
        (
            "CREATE FUNCTION first_event() RETURNS events LANGUAGE sql AS 'SELECT * FROM events LIMIT 1'",
            "function first_event()",
        ),
    ],
)
def test_what_cannot_be_carried_falls_back_to_the_in_place_swap(
    db: psycopg.Connection, database_url: str, backup_dir: Path, setup: str, reason: str
) -> None:
    fill_volume(db, 100)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    expected = snapshot(db)
    db.execute(setup)
    db.execute("DELETE FROM alerts; DELETE FROM events WHERE id > 50")
    result = restore(database_url, archive)
    assert result.swap_mode == "in place"
    assert reason in (result.fallback_reason or ""), result.fallback_reason
    assert snapshot(db) == expected
    assert not staging_schema_exists(db)
