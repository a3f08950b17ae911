"""`backupd backup [-o PATH]`: write an archive of the table set into the store (or PATH) and report it."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..backup import create_backup
from ..ids import uuid7
from ..locking import operation_lock
from ..store.local import ArchiveFile
from ._common import database_url_from, human_bytes, progress_display


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("backup", help="write a backup archive of the table set")
    parser.add_argument("-o", "--output", type=Path, help="archive path (default: a new archive in $BACKUPD_STORE)")
    parser.add_argument("--level", type=int, default=None, choices=range(0, 10), metavar="0-9",
                        help="deflate level (default: 3 with zlib-ng, else 1)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings, url = database_url_from(args)
    backup_id = uuid7()
    extra = {} if args.level is None else {"level": args.level}
    with operation_lock(url), progress_display("Backing up") as on_progress:
        store = settings.open_store()
        if args.output is not None:  # exactly that file, encrypted when BACKUPD_ENCRYPT_TO is set
            output = ArchiveFile(args.output, store.keys) if store.keys.encrypts else args.output
        else:
            store.abort_unfinished()  # we hold the operation lock: whatever is unfinished is dead
            output = store.new_archive(backup_id)
        spool = None if store.keys.encrypts else settings.spool_dir  # encrypted: no plain byte on disk
        result = create_backup(url, output, tables=settings.tables, backup_id=backup_id,
                               progress=on_progress, spool_dir=spool, **extra)
    print(f"{result.path}  {human_bytes(result.size_bytes)}  {result.seconds:.1f}s")
    for key, entry in result.manifest.contents.items():
        print(f"  {key:<24} {entry.count:>12,} rows")
    return 0
