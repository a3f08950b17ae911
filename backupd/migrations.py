"""Ordered SQL migrations from sql/, applied once each and recorded in backupd_migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg

SQL_DIR = Path(__file__).resolve().parent / "sql"
# Arbitrary constant: serialises concurrent `migrate` runs (serve and CLI started together).
_MIGRATION_LOCK_KEY = 0x6261636B7570_01


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(p for p in sql_dir.glob("*.sql") if p.is_file())


def apply_migrations(conn: psycopg.Connection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now (empty when up to date)."""
    applied_now: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK_KEY])
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS backupd_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM backupd_migrations")}
        for path in migration_files(sql_dir):
            if path.name in done:
                continue
            with conn.transaction():
                conn.execute(path.read_text(encoding="utf-8"))
                conn.execute("INSERT INTO backupd_migrations (name) VALUES (%s)", [path.name])
            applied_now.append(path.name)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK_KEY])
    return applied_now


def database_is_empty(conn: psycopg.Connection) -> bool:
    """True when the database has no user tables at all (a fresh drill target)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg_toast%'"
    ).fetchone()
    return row[0] == 0
