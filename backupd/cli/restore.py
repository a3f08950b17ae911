"""`backupd restore PATH [--yes]`: replace the table set's rows with an archive's, all or nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from ..archive import ArchiveReader
from ..locking import operation_lock
from ..restore import restore_from_backup
from ._common import database_url_from, fail, progress_display


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("restore", help="restore an archive into the configured database (atomic)")
    parser.add_argument("path", type=Path, help="backup archive (.zip)")
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
    if not args.yes:
        if not sys.stdin.isatty():
            return fail("refusing to restore without confirmation: stdin is not a terminal (pass --yes)")
        with ArchiveReader(args.path) as reader:  # fail on a bad archive before asking
            manifest = reader.manifest
        tables = ", ".join(settings.tables)
        question = (
            f"Replace all rows of {tables} in {describe_target(url)} with backup {manifest.backup_id}"
            f" of {manifest.created_at:%Y-%m-%d %H:%M:%S %Z}? [y/N]"
        )
        if not confirm(question):
            return fail("restore cancelled")
    with operation_lock(url), progress_display("Restoring") as on_progress:
        result = restore_from_backup(url, args.path, tables=settings.tables, progress=on_progress)
    total = sum(result.items_restored.values())
    print(f"restored backup {result.manifest.backup_id}: {total:,} rows in {result.seconds:.1f}s"
          f" (tables locked for {result.swap_lock_seconds:.2f}s)")
    for key, count in result.items_restored.items():
        print(f"  {key:<24} {count:>12,} rows")
    return 0
