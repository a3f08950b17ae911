"""`backupd restore` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from ._common import fail


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("restore", help="(not yet available)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return fail("restore is not available yet")
