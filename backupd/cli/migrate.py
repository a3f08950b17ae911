"""`backupd migrate [--app-schema]`: create or update backupd's own schema `backupd` (idempotent).

Alone it touches nothing of the application's schema; `--app-schema` also creates the demo
application's eight tables where they do not exist (docs/configuration.md).
"""

from __future__ import annotations

import argparse

from ..db.connection import connect
from ..db.migrations import apply_migrations
from ._common import database_url_from


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("migrate", help="create or update backupd's own schema (backupd)")
    parser.add_argument(
        "--app-schema",
        action="store_true",
        help="also create the demo application's eight tables where they do not exist",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _, url = database_url_from(args)
    with connect(url) as conn:
        applied = apply_migrations(conn, app_schema=args.app_schema)
    print(f"applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "schema backupd is up to date")
    if args.app_schema:
        print("demo application tables: present")
    return 0
