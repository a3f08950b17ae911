"""`backupd restore SOURCE|--latest [--yes]`: replace the table set's rows with an archive's, all or nothing.

On a new machine with an empty database (disaster recovery) the schema is created first.
"""

from __future__ import annotations

import argparse
import sys
from psycopg.conninfo import conninfo_to_dict

from ..archive import ArchiveReader
from ..database import connect
from ..locking import operation_lock
from ..migrations import apply_migrations, database_is_empty
from ..restore import restore_from_backup
from ._common import add_source_arguments, database_url_from, fail, progress_display, resolve_source


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("restore", help="restore an archive into the configured database (atomic)")
    add_source_arguments(parser, "restore")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(run=run)


def describe_target(url: str) -> str:
    """host/dbname of a URL, without credentials (for prompts and reports)."""
    try:
        params = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - display only
        return "the configured database"
    host = params.get("host") or "localhost"
    if host.startswith("/"):
        host = "local socket"
    return f"database {params.get('dbname') or '?'} on {host}"


def confirm(question: str) -> bool:
    print(question, end=" ", file=sys.stderr, flush=True)
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    settings, url = database_url_from(args)
    source = resolve_source(settings, args)
    if not args.yes:
        if not sys.stdin.isatty():
            return fail("refusing to restore without confirmation: stdin is not a terminal (pass --yes)")
        with ArchiveReader(source) as reader:  # fail on a bad archive before asking
            manifest = reader.manifest
        tables = ", ".join(settings.tables)
        question = (
            f"Replace all rows of {tables} in {describe_target(url)} with backup {manifest.backup_id}"
            f" of {manifest.created_at:%Y-%m-%d %H:%M:%S %Z}? [y/N]"
        )
        if not confirm(question):
            return fail("restore cancelled")
    with operation_lock(url), progress_display("Restoring") as on_progress:
        with connect(url, application_name="backupd-migrate") as conn:
            if database_is_empty(conn):
                applied = apply_migrations(conn)
                print(f"empty database: applied migrations {', '.join(applied)}")
        result = restore_from_backup(url, source, tables=settings.tables, progress=on_progress)
    total = sum(result.items_restored.values())
    print(f"restored backup {result.manifest.backup_id}: {total:,} rows in {result.seconds:.1f}s"
          f" (tables locked for {result.swap_lock_seconds:.2f}s)")
    for key, count in result.items_restored.items():
        print(f"  {key:<24} {count:>12,} rows")
    return 0
