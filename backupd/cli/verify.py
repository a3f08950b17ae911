"""`backupd verify PATH`: check an archive offline; exit 0 if sound, 1 with the reason."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..archive import verify_archive
from ._common import progress_display


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("verify", help="check an archive: ZIP structure, manifest, checksums, counts, lines")
    parser.add_argument("path", type=Path)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with progress_display("Verifying") as on_progress:
        from ..progress import Progress

        def report(key: str, done: int, total: int) -> None:
            on_progress(Progress("verifying", int(100 * done / max(total, 1)), f"Checking {key}", 0, 0))

        manifest = verify_archive(args.path, report)
    rows = sum(entry.count for entry in manifest.contents.values())
    print(f"{args.path}: OK  backup {manifest.backup_id}  {len(manifest.contents)} tables  {rows:,} rows")
    return 0
