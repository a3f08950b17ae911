"""backupd's own schema (`backupd`), its migrations, and the demo application's tables.

Everything backupd keeps lives in schema `backupd` and is created on first use by every command
that needs it (`ensure_schema`): the application's schema is not ours, and an application may
have tables named `backup_jobs` or `restore_jobs` of its own. Migrations are the numbered files
of sql/ (applied once each, recorded in backupd.migrations). The demo tables
(sql/app/demo_schema.sql) are created only on request: `demo-data`, `migrate --app-schema`.

Before this schema existed, backupd kept its tables in `public` and recorded its migrations in
public.backupd_migrations. `adopt_public_tables` moves such an installation's tables into
`backupd` with every row, and leaves alone any table it cannot prove it created.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from .connection import one_row

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
DEMO_SCHEMA_SQL = SQL_DIR / "app" / "demo_schema.sql"
SCHEMA = "backupd"
# Arbitrary constant: serialises concurrent `migrate` runs (serve and CLI started together).
_MIGRATION_LOCK_KEY = 0x6261636B7570_01
# Tables of the old layout in `public`, by the old migration that created them, and their new names.
_LEGACY_TABLES = {
    "0002_job_tables.sql": {"backup_jobs": "backup_jobs", "restore_jobs": "restore_jobs"},
    "0003_schedules_retention_drills.sql": {
        "backupd_schedule": "schedule_settings",
        "schedule_anchors": "schedule_anchors",
        "schedule_slots": "schedule_slots",
        "drill_runs": "drill_runs",
    },
}
_LEGACY_STATUS_TYPES = {"backup_jobs": "backup_job_status", "restore_jobs": "restore_job_status"}

log = logging.getLogger(__name__)


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(p for p in sql_dir.glob("*.sql") if p.is_file())


def apply_migrations(conn: psycopg.Connection, sql_dir: Path = SQL_DIR, *, app_schema: bool = False) -> list[str]:
    """Create or update schema `backupd`; return the migrations applied now (empty when up to date).

    `app_schema` also creates the demo application's eight tables where they do not exist.
    """
    applied_now: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK_KEY])
    try:
        with conn.transaction():
            conn.execute("CREATE SCHEMA IF NOT EXISTS backupd")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS backupd.migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        done = {row[0] for row in conn.execute("SELECT name FROM backupd.migrations")}
        for path in migration_files(sql_dir):
            if path.name in done:
                continue
            with conn.transaction():
                if not done and not applied_now:
                    adopt_public_tables(conn)
                conn.execute(path.read_text(encoding="utf-8"))
                conn.execute("INSERT INTO backupd.migrations (name) VALUES (%s)", [path.name])
                if not done and not applied_now:
                    _drop_legacy_types(conn)
            applied_now.append(path.name)
        if app_schema:
            with conn.transaction():
                conn.execute(DEMO_SCHEMA_SQL.read_text(encoding="utf-8"))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK_KEY])
    return applied_now


def ensure_schema(database_url: str) -> list[str]:
    """apply_migrations on a connection of its own (commands that need a job row call this first)."""
    from .connection import connect

    with connect(database_url, application_name="backupd-migrate") as conn:
        return apply_migrations(conn)


def create_demo_schema(conn: psycopg.Connection) -> None:
    """The demo application's eight tables, where they do not exist (in the caller's transaction)."""
    conn.execute(DEMO_SCHEMA_SQL.read_text(encoding="utf-8"))


def adopt_public_tables(conn: psycopg.Connection) -> list[str]:
    """Move the tables an older backupd created in `public` into `backupd`; the names moved.

    Ours are the tables its recorded migrations created; a table of that name that existed before
    backupd's first migration (a lower OID than public.backupd_migrations, which that migration
    created first) is the application's own, and stays where it is, untouched.
    """
    marker = one_row(conn.execute("SELECT to_regclass('public.backupd_migrations')::oid"))[0]
    if marker is None:
        return []
    done = {row[0] for row in conn.execute("SELECT name FROM public.backupd_migrations")}
    moved: list[str] = []
    for migration, tables in _LEGACY_TABLES.items():
        if migration not in done:
            continue
        for old, new in tables.items():
            oid = one_row(conn.execute("SELECT to_regclass(%s)::oid", [f"public.{old}"]))[0]
            if oid is None:
                continue
            if oid < marker:
                log.warning(
                    "public.%s existed before backupd's first migration: it is the application's, left alone", old
                )
                continue
            conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA backupd").format(sql.Identifier("public", old)))
            if new != old:
                conn.execute(
                    sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(SCHEMA, old), sql.Identifier(new))
                )
            moved.append(old)
    _retype_status_columns(conn, moved)
    conn.execute("ALTER TABLE public.backupd_migrations SET SCHEMA backupd")
    conn.execute("ALTER TABLE backupd.backupd_migrations RENAME TO legacy_migrations")
    if moved:
        log.warning("moved backupd's tables from schema public into schema backupd: %s", ", ".join(moved))
    return moved


def _retype_status_columns(conn: psycopg.Connection, moved: list[str]) -> None:
    """The moved job tables' status columns take backupd's own enum types (created here first)."""
    for table, type_name in _LEGACY_STATUS_TYPES.items():
        if table not in moved:
            continue
        labels = one_row(
            conn.execute(
                "SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e"
                " WHERE e.enumtypid = to_regtype(%s)",
                [f"public.{type_name}"],
            )
        )[0]
        if labels is None:
            continue
        target = sql.Identifier(SCHEMA, type_name)
        conn.execute(
            sql.SQL("CREATE TYPE {} AS ENUM ({})").format(target, sql.SQL(", ").join(map(sql.Literal, labels)))
        )
        conn.execute(
            sql.SQL(
                "ALTER TABLE {t} ALTER COLUMN status DROP DEFAULT,"
                " ALTER COLUMN status TYPE {e} USING status::text::{e},"
                " ALTER COLUMN status SET DEFAULT 'pending'"
            ).format(t=sql.Identifier(SCHEMA, table), e=target)
        )


def _drop_legacy_types(conn: psycopg.Connection) -> None:
    """The old status enums in `public`, once nothing uses them (an application's own type of the
    same name that is still used stays: DROP without CASCADE fails, and that is kept)."""
    marker = one_row(conn.execute("SELECT to_regclass('backupd.legacy_migrations')::oid"))[0]
    if marker is None:
        return
    for type_name in _LEGACY_STATUS_TYPES.values():
        oid = one_row(conn.execute("SELECT to_regtype(%s)::oid", [f"public.{type_name}"]))[0]
        if oid is None or oid < marker:
            continue
        try:
            with conn.transaction():
                conn.execute(sql.SQL("DROP TYPE {}").format(sql.Identifier("public", type_name)))
        except psycopg.errors.DependentObjectsStillExist:
            pass


def database_is_empty(conn: psycopg.Connection) -> bool:
    """True when the database has no user tables at all (backupd's own schema aside)."""
    count: int = one_row(
        conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'backupd')"
            " AND n.nspname NOT LIKE 'pg_toast%'"
        )
    )[0]
    return count == 0
