"""Catalog introspection: everything the engines need is read from PostgreSQL, nothing hard-coded."""

from __future__ import annotations

import psycopg
import pytest

from backupd import DEFAULT_TABLES
from backupd.db.catalog import describe_tables, outside_references
from backupd.db.migrations import apply_migrations
from backupd.errors import CatalogError


def test_default_set_parents_first_with_keys_and_sequences(db: psycopg.Connection) -> None:
    tables = describe_tables(db, DEFAULT_TABLES)
    order = [t.key for t in tables]
    assert sorted(order) == sorted(DEFAULT_TABLES)
    assert order.index("cameras") < order.index("events") < order.index("alerts")
    assert order.index("cameras") < order.index("zones")
    assert order.index("cameras") < order.index("baselines")
    by_key = {t.key: t for t in tables}
    assert by_key["settings"].primary_key == ("key",)
    assert by_key["events"].primary_key == ("id",)
    assert [(s.column, s.sequence) for s in by_key["events"].sequences] == [("id", "events_id_seq")]
    assert by_key["cameras"].sequences == ()
    fk = by_key["alerts"].foreign_keys[0]
    assert (fk.columns, fk.ref_columns, fk.on_delete) == (("event_id",), ("id",), "c")
    events = by_key["events"]
    assert [c.name for c in events.columns if c.carried_as_text] == ["entities", "flags", "confidence_factors"]
    assert events.column("search_vector").type_sql == "tsvector"
    assert by_key["alerts"].column("channels").carried_as_text  # json, not jsonb
    assert by_key["alerts"].column("dedup_key").type_sql == "character varying(255)"


def test_identity_generated_domains_and_arrays(db: psycopg.Connection) -> None:
    db.execute("CREATE DOMAIN jdoc AS jsonb")
    db.execute(
        "CREATE TABLE zoo (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, d jdoc, ja jsonb[],"
        " ta text[], g int GENERATED ALWAYS AS (id * 2) STORED)"
    )
    (zoo,) = describe_tables(db, ["zoo"])
    assert zoo.column("id").identity == "a"
    assert [s.column for s in zoo.sequences] == ["id"]
    assert zoo.column("d").carried_as_text and zoo.column("ja").carried_as_text
    assert not zoo.column("ta").carried_as_text and zoo.column("ta").is_array
    assert zoo.column("g").generated and [c.name for c in zoo.insertable_columns] == ["id", "d", "ja", "ta"]


def test_outside_references_and_errors(db: psycopg.Connection) -> None:
    db.execute(
        "CREATE TABLE detections (id serial PRIMARY KEY, event_id int REFERENCES events ON DELETE CASCADE,"
        " camera_id text REFERENCES cameras)"
    )
    tables = describe_tables(db, DEFAULT_TABLES)
    refs = sorted((r.table, r.columns, r.on_delete) for r in outside_references(db, tables))
    assert refs == [("detections", ("camera_id",), "a"), ("detections", ("event_id",), "c")]
    with pytest.raises(CatalogError, match="table not found: nope"):
        describe_tables(db, ["nope"])
    db.execute("CREATE VIEW v AS SELECT 1 AS x")
    with pytest.raises(CatalogError, match="not a table: v"):
        describe_tables(db, ["v"])
    with pytest.raises(CatalogError, match=r"table listed twice: public\.events"):
        describe_tables(db, ["events", "public.events"])


def test_foreign_key_cycle_is_reported(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE a (id int PRIMARY KEY, b_id int)")
    db.execute("CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a)")
    db.execute("ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b")
    with pytest.raises(CatalogError, match="foreign keys form a cycle between tables"):
        describe_tables(db, ["a", "b"])


def test_migrations_are_idempotent(db: psycopg.Connection) -> None:
    assert apply_migrations(db) == []  # the template already ran them
    names = [r[0] for r in db.execute("SELECT name FROM backupd.migrations ORDER BY name")]
    assert names == ["0001_backupd_schema.sql", "0002_audit.sql", "0003_notifications.sql"]
    schema = db.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'backupd'::regnamespace").fetchone()
    assert apply_migrations(db) == []
    assert db.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'backupd'::regnamespace").fetchone() == schema


def test_migrate_from_scratch_twice(empty_database_url: str) -> None:
    from backupd.db.connection import connect

    with connect(empty_database_url) as conn:
        assert apply_migrations(conn) == ["0001_backupd_schema.sql", "0002_audit.sql", "0003_notifications.sql"]
        assert apply_migrations(conn) == []
        assert conn.execute("SELECT to_regclass('backupd.restore_jobs') IS NOT NULL").fetchone()[0]
        # backupd's own schema only: no table of the application's schema
        assert (
            conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").fetchone()[0] == 0
        )
