"""`backupd serve [--host 127.0.0.1] [--port 8000]`: migrate, then serve the API (and the web UI)."""

from __future__ import annotations

import argparse
import sys

from ..database import connect
from ..migrations import apply_migrations
from ._common import database_url_from

SWITCH_INTERVAL_SECONDS = 0.001


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="serve the REST API and the web UI")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"], help="uvicorn log level")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..api import create_app

    settings, url = database_url_from(args)
    # Migrate before binding so a database problem is a one-line error, not a server that half starts.
    with connect(url, application_name="backupd-migrate") as conn:
        applied = apply_migrations(conn)
    if applied:
        print(f"applied migrations: {', '.join(applied)}")
    app = create_app(settings.model_copy(update={"database_url": url}))
    # Status polls share the GIL with a running engine thread (zip, hashing); the default 5 ms
    # switch interval makes each hand-off of a request wait up to 5 ms. 1 ms cut the p99 of
    # GET /api/backup/{id} during a 1M-event backup from 52 to 36 ms at no cost in backup time.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
