"""`backupd demo-data [--events N]`: replace the application tables' data with realistic synthetic data."""

from __future__ import annotations

import argparse
import time

from ..db.connection import connect
from ..db.locks import operation_lock
from ..db.migrations import apply_migrations
from ..demo import generate_demo_data
from ..progress import Progress
from ._common import database_url_from, progress_display


def _event_count(value: str) -> int:
    try:
        count = int(value.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return count


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo-data", help="replace the data of the eight application tables with realistic synthetic data"
    )
    parser.add_argument(
        "--events",
        type=_event_count,
        default=10000,
        metavar="N",
        help="number of events to generate (default: 10000; alerts follow for ~30%% of them)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _, url = database_url_from(args)
    started = time.monotonic()
    # The operation lock keeps a backup or restore from starting halfway (they would otherwise queue on our locks).
    with operation_lock(url), connect(url) as conn:
        apply_migrations(conn, app_schema=True)
        with progress_display("Generating demo data") as on_progress:
            counts = generate_demo_data(
                conn, args.events, lambda step, percent: on_progress(Progress("demo-data", percent, step, 0, 0))
            )
    elapsed = time.monotonic() - started
    print(f"demo data generated in {elapsed:.1f}s ({sum(counts.values()):,} rows)")
    for table, count in counts.items():
        print(f"  {table:<24} {count:>12,} rows")
    return 0
