"""`backupd restore SOURCE|--latest [--tables a,b] [--dry-run] [--no-safety-backup] [--yes]`.

Replaces the rows of the archive's tables (or only `--tables`) all or nothing, after a safety
backup of the rows it replaces (restoring that one undoes it); `--dry-run` only reports what
would change. Tables missing from the database (a new machine, disaster recovery) are created from
the archive's table definitions first.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import psycopg

from ..archive import ArchiveReader
from ..audit import audited_command
from ..db.connection import describe_target
from ..db.locks import operation_lock
from ..db.pool import ConnectionPool
from ..jobs import JobRecords, restores_what_it_holds, take_safety_backup
from ..restore.changes import TableChanges
from ..restore.engine import restore_from_backup
from ..services import open_local
from ._common import (
    add_source_arguments,
    database_url_from,
    fail,
    progress_display,
    resolve_source,
    warn,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("restore", help="restore an archive into the configured database (atomic)")
    add_source_arguments(parser, "restore")
    parser.add_argument("--tables", metavar="A,B", help="replace only these tables of the archive")
    parser.add_argument(
        "--dry-run", action="store_true", help="validate and stage, print what would change, change nothing"
    )
    parser.add_argument(
        "--no-safety-backup",
        dest="safety_backup",
        action="store_false",
        help="do not back up the replaced tables first",
    )
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(run=run)


def confirm(question: str) -> bool:
    print(question, end=" ", file=sys.stderr, flush=True)
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _backup_row(url: str, backup_id: str) -> dict[str, Any] | None:
    """The job row of an archive's backup, when this database recorded one (an empty database has no job tables)."""
    pool = ConnectionPool(url)
    try:
        return JobRecords(pool).get("backup", backup_id)
    except psycopg.errors.UndefinedTable:
        return None
    finally:
        pool.close()


def print_changes(changes: dict[str, TableChanges]) -> None:
    columns = ("archive_rows", "live_rows", "added", "removed", "changed", "unchanged")
    print(f"  {'table':<24}" + "".join(f"{c:>13}" for c in columns))
    for key, change in changes.items():
        print(f"  {key:<24}" + "".join(f"{getattr(change, c):>13,}" for c in columns))


def run(args: argparse.Namespace) -> int:
    settings, url = database_url_from(args)
    source = resolve_source(settings, args)
    only = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    with ArchiveReader(source) as reader:  # a bad archive or an unknown table fails before anything
        manifest = reader.manifest
    if only is None and restores_what_it_holds(_backup_row(url, manifest.backup_id)):
        only = list(manifest.contents)
    unknown = [t for t in only or [] if t not in manifest.contents]
    if unknown:
        return fail(f"tables not in the archive: {', '.join(unknown)}")
    if not args.yes and not args.dry_run:
        if not sys.stdin.isatty():
            return fail("refusing to restore without confirmation: stdin is not a terminal (pass --yes)")
        tables = ", ".join(only or manifest.contents)
        question = (
            f"Replace all rows of {tables} in {describe_target(url)} with backup {manifest.backup_id}"
            f" of {manifest.created_at:%Y-%m-%d %H:%M:%S %Z}? [y/N]"
        )
        if not confirm(question):
            return fail("restore cancelled")
    safety: list[str] = []
    action = "dry-run a restore" if args.dry_run else "restore a backup"  # audited as the OS user (docs/rest-api.md)
    with (
        audited_command(url, "restore", action, target_id=manifest.backup_id),
        operation_lock(url) as lock,
        progress_display("Restoring") as on_progress,
    ):

        def safety_backup(tables: list[str]) -> None:
            with open_local(settings, url) as local:  # its job row lives in schema backupd
                safety.append(
                    take_safety_backup(local.jobs, local.archives, url, lock, tables, spool_dir=settings.spool_dir)
                )

        result = restore_from_backup(
            url,
            source,
            tables=settings.tables,
            only=only,
            dry_run=args.dry_run,
            progress=on_progress,
            before_swap=safety_backup if args.safety_backup and not args.dry_run else None,
        )
    if args.dry_run:
        print(f"dry run of backup {result.manifest.backup_id}: nothing was changed; the restore would change:")
        print_changes(result.changes)
        return 0
    total = sum(result.items_restored.values())
    how = f": rows replaced in place, because {result.fallback_reason}" if result.swap_mode == "in place" else ""
    print(
        f"restored backup {result.manifest.backup_id}: {total:,} rows in {result.seconds:.1f}s"
        f" (tables locked for {result.swap_lock_seconds:.3f}s{how})"
    )
    if result.recreated:
        print(
            f"created {len(result.recreated)} missing table(s) from the archive's definitions:"
            f" {', '.join(result.recreated)}; not created (an archive does not carry them):"
            f" {', '.join(result.not_recreated)}"
        )
    if result.adapted:
        warn("this server could not take every definition as archived: " + "; ".join(result.adapted))
    if safety:
        print(f"safety backup {safety[0]} holds the replaced rows: `backupd restore {safety[0]}` undoes this restore")
    print_changes(result.changes)
    return 0
