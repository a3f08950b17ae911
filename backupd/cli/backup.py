"""`backupd backup [-o PATH]`: write an archive of the table set into the store (or PATH) and report it.

A backup into the store is a job like the service's (trigger `manual`): its row is what the list,
retention and the page see. `-o PATH` writes exactly that file, outside the store, with no row.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypedDict

from ..backup.engine import BackupResult, create_backup
from ..backup.reuse import find_previous
from ..config import Settings
from ..db.locks import OperationLock, operation_lock
from ..ids import uuid7
from ..jobs import record_backup
from ..jobs.runner import reuse_text
from ..progress import Progress, ProgressCallback
from ..services import open_local
from ..store.directory import ArchiveFile
from ._common import database_url_from, human_bytes, progress_display, warn


class _Options(TypedDict, total=False):
    """create_backup options given on the command line (an absent one keeps its default)."""

    level: int


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("backup", help="write a backup archive of the table set")
    parser.add_argument("-o", "--output", type=Path, help="archive path (default: a new archive in $BACKUPD_STORE)")
    parser.add_argument(
        "--level",
        type=int,
        default=None,
        choices=range(0, 10),
        metavar="0-9",
        help="deflate level (default: 3 with zlib-ng, else 1)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="read every row: reuse no part of the previous backup (docs/change-proportional-backups.md)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings, url = database_url_from(args)
    backup_id = uuid7()
    extra: _Options = {} if args.level is None else {"level": args.level}
    with operation_lock(url) as lock, progress_display("Backing up") as on_progress:
        store = settings.open_store()
        spool = None if store.keys.encrypts else settings.spool_dir  # encrypted: no plain byte on disk
        if args.output is not None:  # exactly that file, encrypted when BACKUPD_ENCRYPT_TO is set
            output = ArchiveFile(args.output, store.keys) if store.keys.encrypts else args.output
            result = create_backup(
                url, output, tables=settings.tables, backup_id=backup_id, progress=on_progress, spool_dir=spool, **extra
            )
        else:
            result = _backup_into_store(settings, url, lock, backup_id, on_progress, spool, extra, full=args.full)
    if result.manifest.warnings:
        warn(
            "the table set is not closed under foreign keys: "
            + "; ".join(result.manifest.warnings)
            + " (restore it where those tables exist, or add them to BACKUPD_TABLES)"
        )
    print(f"{result.path}  {human_bytes(result.size_bytes)}  {result.seconds:.1f}s")
    for key, entry in result.manifest.contents.items():
        print(f"  {key:<24} {entry.count:>12,} rows")
    if result.manifest.reuse is not None:
        basis = f" of backup {result.manifest.reused_from}" if result.manifest.reused_from else ""
        print(f"  {reuse_text(result.manifest.reuse.model_dump())}{basis}")
    if result.manifest.reuse_note:
        print(f"  nothing reused: {result.manifest.reuse_note}")
    return 0


def _backup_into_store(
    settings: Settings,
    url: str,
    lock: OperationLock,
    backup_id: str,
    on_progress: ProgressCallback,
    spool: Path | None,
    extra: _Options,
    *,
    full: bool = False,
) -> BackupResult:
    """A recorded backup job (trigger manual) whose progress the terminal and the job row both show."""
    with open_local(settings, url) as local:  # the job row lives in schema backupd, created on first use
        local.archives.abort_unfinished()  # we hold the operation lock: whatever is unfinished is dead
        target = local.archives.new_archive(backup_id)
        previous = None if full else find_previous(local.jobs, local.archives)

        def make(to_row: ProgressCallback) -> BackupResult:
            def both(p: Progress) -> None:
                on_progress(p)
                to_row(p)

            return create_backup(
                url,
                target,
                tables=settings.tables,
                backup_id=backup_id,
                progress=both,
                spool_dir=spool,
                previous=previous,
                full=full,
                **extra,
            )

        return record_backup(local.jobs, lock, backup_id, target, "manual", len(settings.tables), make)
