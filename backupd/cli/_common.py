"""What every command shares: settings, the database URL, one-line errors, terminal progress."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import Settings
from ..db.connection import resolve_database_url
from ..errors import ConfigError, one_line
from ..progress import Progress
from ..store import NotFound, StoredArchive
from ..store.directory import ArchiveFile


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    url = getattr(args, "database_url", None) or getattr(args, "global_database_url", None)
    if url:
        overrides["database_url"] = url
    return Settings(**overrides)


def database_url_from(args: argparse.Namespace) -> tuple[Settings, str]:
    settings = settings_from(args)
    return settings, resolve_database_url(settings)


def add_source_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """SOURCE as `restore`, `verify` and `drill` take it (docs/cli.md)."""
    parser.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help=f"the archive to {what}: a local file, an object name in the store, or a backup id",
    )
    parser.add_argument("--latest", action="store_true", help="the newest archive in the store")


def resolve_source(settings: Settings, args: argparse.Namespace) -> ArchiveFile | StoredArchive:
    """A local file when SOURCE names one; else an archive of the store, by object name or backup id.
    Either may be age-encrypted (read with BACKUPD_AGE_IDENTITY_FILE)."""
    if args.latest == (args.source is not None):
        raise ConfigError("give either SOURCE or --latest")
    store = settings.open_store()
    if args.latest:
        return store.latest()
    path = Path(args.source).expanduser()
    if path.is_file():
        return ArchiveFile(path, store.keys)
    try:
        return store.find(args.source)
    except NotFound:
        raise NotFound(f"no such file, and no archive named or with id {args.source} in {store.location('')}") from None


def fail(message: str, code: int = 1) -> int:
    """Print a one-line error on stderr and return the exit status."""
    line = " ".join(str(message).split())
    print(f"backupd: error: {line}", file=sys.stderr)
    return code


def warn(message: str) -> None:
    """A one-line warning on stderr: the command goes on (and may still exit 0)."""
    line = " ".join(str(message).split())
    print(f"backupd: warning: {line}", file=sys.stderr)


def debug_enabled(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("BACKUPD_DEBUG", "") not in ("", "0")


def run_command(args: argparse.Namespace) -> int:
    """Run a command; whatever fails (database, disk, network, a bug) ends in one line and exit 1.

    With --debug or BACKUPD_DEBUG=1 the traceback is printed first, for bug reports.
    """
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as exc:  # the one place every failure is turned into a line
        if debug_enabled(args):
            traceback.print_exc()
        return fail(one_line(exc))


@contextmanager
def progress_display(description: str) -> Iterator[Callable[[Progress], None]]:
    """A rich progress bar on a terminal (nothing otherwise); yields a callback for engine Progress."""
    if not sys.stderr.isatty():
        yield lambda _p: None
        return
    # rich is imported here: only a terminal's bar needs it (0.2 s of every command's start otherwise)
    from rich.console import Console
    from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with RichProgress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=100)

        def update(p: Progress) -> None:
            bar.update(task, completed=p.percent, description=p.step)

        yield update


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
