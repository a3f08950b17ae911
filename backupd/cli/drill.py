"""`backupd drill SOURCE|--latest --database-url URL`: restore into a staging database and prove it matches."""

from __future__ import annotations

import argparse

from ..drill.run import format_report, run_drill
from ._common import (
    add_source_arguments,
    progress_display,
    resolve_source,
    settings_from,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "drill", help="restore an archive into a staging database and verify the result matches it"
    )
    add_source_arguments(parser, "drill")
    # Not `database_url`: the top-level --database-url (the application database) must not be
    # mistaken for the drill's target, nor the other way round.
    parser.add_argument(
        "--database-url",
        dest="target_url",
        metavar="URL",
        required=True,
        help="the staging database to restore into (its data is replaced)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    source = resolve_source(settings, args)
    with progress_display("Drilling") as on_progress:
        report = run_drill(args.target_url, source, tables=settings.tables, progress=on_progress)
    for line in format_report(report):
        print(line)
    return 0 if report.ok else 1
