"""`backupd verify SOURCE|--latest`: check an archive offline; exit 0 if sound, 1 with the reason."""

from __future__ import annotations

import argparse

from ..archive import verify_archive
from ._common import (
    add_source_arguments,
    progress_display,
    resolve_source,
    settings_from,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("verify", help="check an archive: ZIP structure, manifest, checksums, counts, lines")
    add_source_arguments(parser, "verify")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    source = resolve_source(settings_from(args), args)
    with progress_display("Verifying") as on_progress:
        from ..progress import Progress

        def report(key: str, done: int, total: int) -> None:
            on_progress(Progress("verifying", int(100 * done / max(total, 1)), f"Checking {key}", 0, 0))

        manifest = verify_archive(source, report)
    rows = sum(entry.count for entry in manifest.contents.values())
    print(f"{source}: OK  backup {manifest.backup_id}  {len(manifest.contents)} tables  {rows:,} rows")
    return 0
