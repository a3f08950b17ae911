"""The embedded PostgreSQL server (pgserver) used when no database URL is configured.

The server is left running when backupd exits (cleanup_mode=None) so later runs and
other backupd processes reuse it; its data lives under $BACKUPD_DATA_DIR/pg.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

APP_DATABASE = "backupd"


def embedded_server_url(pgdata: Path, database: str = APP_DATABASE) -> str:
    """Start (or attach to) the embedded server and return a URL of `database`, creating it if needed."""
    with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR; pgserver copes
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: it is only needed without a configured database

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process created it first
    return server.get_uri(database)
