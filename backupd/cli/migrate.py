"""`backupd migrate`: apply the sql/ migrations (idempotent)."""

from __future__ import annotations

import argparse

from ..database import connect
from ..migrations import apply_migrations
from ._common import database_url_from


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="apply the schema migrations under sql/")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _, url = database_url_from(args)
    with connect(url) as conn:
        applied = apply_migrations(conn)
    print(f"applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "schema is up to date")
    return 0
