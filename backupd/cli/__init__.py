"""The `backupd` command line: one module per command, each with `add_parser` and `run`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

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
GLOBAL_OPTIONS_WITH_VALUE = ("--database-url",)  # the options before COMMAND that take the next word


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every command's, or with `only` just that one's (command_named)."""
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
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(subparsers)
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The module of the command `argv` runs, or None when it names none of COMMANDS.

    Each command's module imports what it runs on (psycopg, pydantic, the engines: about half a
    second); a command that is named needs only its own module, and `backupd --help`, a mistyped
    command or no command at all get the parser of every command (and argparse's own message).
    """
    words = iter(argv)
    for word in words:
        if word in GLOBAL_OPTIONS_WITH_VALUE:
            next(words, None)
        elif word == "--" or not word.startswith("-"):
            name = word.replace("-", "_")
            return name if name in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    from ._common import run_command

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(command_named(argv))
    args = parser.parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
