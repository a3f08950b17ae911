"""`backupd export events [--since ISO] [--until ISO] [-o PATH]`: events as JSON lines.

Writes to stdout by default; with -o the lines go to a temporary file renamed into place once
complete, so a reader never sees a half-written export under the final name.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from ..errors import BackupdError
from ..export import iter_events, parse_timestamp
from ._common import database_url_from, human_bytes


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("export", help="stream events as JSON lines")
    parser.add_argument("what", choices=["events"], help="what to export (events)")
    parser.add_argument("--since", metavar="ISO", help="only events with started_at >= ISO (ISO 8601; naive = UTC)")
    parser.add_argument("--until", metavar="ISO", help="only events with started_at < ISO")
    parser.add_argument("-o", "--output", type=Path, metavar="PATH", help="write to PATH (default: stdout)")
    parser.set_defaults(run=run)


def _timestamp(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise BackupdError(f"--{name}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    since, until = _timestamp("since", args.since), _timestamp("until", args.until)
    _, url = database_url_from(args)
    started = time.monotonic()
    chunks = iter_events(url, since, until)
    if args.output is None:
        out = sys.stdout.buffer
        try:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
        except BrokenPipeError:  # `| head`: the reader has enough; not an error
            chunks.close()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    path: Path = args.output
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    rows = size = 0
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                rows += chunk.count(b"\n")
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        chunks.close()
        tmp.unlink(missing_ok=True)
        raise
    seconds = time.monotonic() - started
    print(f"{path}  {rows:,} events  {human_bytes(size)}  {seconds:.1f}s", file=sys.stderr)
    return 0
