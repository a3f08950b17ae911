"""`backupd serve [--host 127.0.0.1] [--port 8000]`: migrate, then serve the API (and the web UI).

Without BACKUPD_API_KEY the API lets whoever reaches the port read and replace the database, so a
non-loopback address is refused unless `--insecure-no-auth` says that is intended (docs/rest-api.md).
"""

from __future__ import annotations

import argparse
import sys

from ..config import Settings
from ..db.connection import connect, resolve_database_url
from ..db.migrations import apply_migrations
from ..errors import ConfigError
from ..schedule.settings import config_from_settings
from ._common import settings_from

SWITCH_INTERVAL_SECONDS = 0.001


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="serve the REST API and the web UI")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level",
    )
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve a non-loopback address without BACKUPD_API_KEY (anyone who reaches it "
        "can read and replace the database)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..api import create_app

    settings = settings_from(args)
    check_bind(args.host, settings, insecure_no_auth=args.insecure_no_auth)  # before the database is touched
    config_from_settings(settings)  # a bad BACKUPD_SCHEDULE / TIMEZONE / DRILL_SCHEDULE: one line, exit 1
    url = resolve_database_url(settings)
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


def check_bind(host: str, settings: Settings, *, insecure_no_auth: bool) -> None:
    """Refuse (ConfigError) to expose the API beyond this machine without a key; warn when overridden."""
    from ..api.keys import keyring_from  # a malformed BACKUPD_API_KEYS: one line, before anything starts
    from ..api.security import (
        is_loopback,  # here: `backupd --help` does not load FastAPI
    )

    if keyring_from(settings) or is_loopback(host):
        return
    if not insecure_no_auth:
        raise ConfigError(
            f"refusing to serve {host} without BACKUPD_API_KEY: anyone who reaches it could read "
            "and replace the database; set BACKUPD_API_KEY, bind 127.0.0.1, "
            "or pass --insecure-no-auth"
        )
    print(
        f"backupd: warning: serving {host} without BACKUPD_API_KEY (--insecure-no-auth): anyone who reaches "
        "it can read and replace the database; /api/* still answers only to localhost, loopback "
        "addresses and BACKUPD_ALLOWED_HOSTS",
        file=sys.stderr,
        flush=True,
    )
