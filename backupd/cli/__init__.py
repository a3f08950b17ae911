"""The `backupd` command line: one module per command, each with `add_parser` and `run`."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

# Module names under backupd.cli, in the order `backupd --help` lists them.
COMMANDS = (
    "serve",
    "migrate",
    "demo_data",
    "backup",
    "list",
    "restore",
    "verify",
    "export",
    "drill",
    "prune",
    "keygen",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backupd", description="Database-native backup and restore for PostgreSQL.")
    parser.add_argument("--version", action="version", version=f"backupd {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="print a traceback when a command fails (also BACKUPD_DEBUG=1)"
    )
    parser.add_argument(
        "--database-url",
        dest="global_database_url",
        metavar="URL",
        help="PostgreSQL URL (default: $BACKUPD_DATABASE_URL, $DATABASE_URL, else the embedded server)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ._common import run_command

    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
