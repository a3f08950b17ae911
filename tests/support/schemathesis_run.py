"""Check that /openapi.json tells the truth: schemathesis against a real `backupd serve` (`make test-schemathesis`).

A fresh database (and one more as the drill target) is created on the test PostgreSQL server (--server-url,
else $BACKUPD_TEST_DATABASE_URL, else an embedded server started for the run) and dropped afterwards; the
data and backup directories are temporary. Nothing else is touched: schemathesis starts backups, deletes them and posts restores, so it
must never see a database that matters.

Four passes, each `st run --checks all` with a fixed seed and example count (reproducible): one without an
API key (the Host/Origin checks of docs/rest-api.md apply) and one with a key of each role (docs/rest-api.md:
401 documented and enforced, schemathesis' `ignored_auth` check; 403 `Role … may not …` documented for
what an operator or viewer may not do). Any finding fails the run.

    .venv/bin/python tests/support/schemathesis_run.py [--server-url URL] [--seed N] [--max-examples N] [-- ST ARGS]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from backupd.db.migrations import apply_migrations

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
SEED = 20260131
MAX_EXAMPLES = 30
API_KEY = "schemathesis-" + secrets.token_hex(8)  # BACKUPD_API_KEY: the admin named `default`
VIEWER_KEY = "schemathesis-viewer-" + secrets.token_hex(8)
OPERATOR_KEY = "schemathesis-operator-" + secrets.token_hex(8)
ROLE_KEYS = f"st-viewer:viewer:{VIEWER_KEY},st-operator:operator:{OPERATOR_KEY}"  # BACKUPD_API_KEYS (docs/rest-api.md)
LOOPBACK = "127.0.0.1,localhost"


def log(message: str) -> None:
    print(f"== schemathesis: {message}", flush=True)


def answers(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """The given server when it answers, else an embedded one (PostgreSQL 18) for this run only."""
    if url and answers(url):
        yield url
        return
    if url:
        log(f"{url} does not answer: using an embedded PostgreSQL")
    from backupd.db.embedded import temporary_server

    with (
        tempfile.TemporaryDirectory(prefix="backupd-st-pg-") as pgdata,
        temporary_server(Path(pgdata) / "data") as server_url,
    ):
        yield server_url


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    name = "backupd_st_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    # The demo application's tables, as `make run` creates them: `serve` alone never does.
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn, app_schema=True)
    try:
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backupd_command() -> list[str]:
    script = Path(sys.executable).with_name("backupd")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from backupd.cli import main; main()"]


@contextmanager
def backupd_serve(database_url: str, drill_url: str, workdir: Path, api_key: str | None) -> Iterator[str]:
    """`backupd serve` on a free loopback port with only this run's settings; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUPD_") and k != "DATABASE_URL"}
    env.update(
        BACKUPD_DATABASE_URL=database_url,
        BACKUPD_DATA_DIR=str(workdir / "data"),
        BACKUPD_BACKUP_DIR=str(workdir / "backups"),
        BACKUPD_DRILL_DATABASE_URL=drill_url,
    )
    if api_key:
        env["BACKUPD_API_KEY"] = API_KEY
        env["BACKUPD_API_KEYS"] = ROLE_KEYS
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = open(workdir / f"serve-{port}.log", "w+")  # noqa: SIM115 - outlives the yield; closed in finally
    proc = subprocess.Popen(
        [*backupd_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"backupd serve exited with {proc.returncode}")
            try:
                with direct.open(f"{base}/api/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("backupd serve did not answer /api/health within 60 s")
            time.sleep(0.2)
        yield base
    except BaseException:
        server_log.seek(0)
        sys.stderr.write(server_log.read()[-20000:])
        raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: running jobs are waited for
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        server_log.close()


def schemathesis(
    base: str, *, seed: int, max_examples: int, api_key: str | None, extra: list[str], workdir: Path, report_dir: Path
) -> int:
    st = Path(sys.executable).with_name("st")
    command = [
        str(st) if st.exists() else "st",
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(seed),
        "--max-examples",
        str(max_examples),
        # One worker and no example database: the same seed gives the same run everywhere.
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    if api_key:
        command += ["--header", f"X-API-Key: {api_key}"]
    command += extra
    log(" ".join(command).replace(api_key or "\0", "***"))
    env = {**os.environ, "NO_PROXY": LOOPBACK, "no_proxy": LOOPBACK}
    return subprocess.call(command, cwd=workdir, env=env)  # cwd: schemathesis' own files stay out of the repo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server-url",
        default=os.environ.get("BACKUPD_TEST_DATABASE_URL"),
        help="PostgreSQL server to create the throwaway database on"
        " (default: $BACKUPD_TEST_DATABASE_URL, else an embedded server)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES)
    parser.add_argument("--keep-report", type=Path, help="write schemathesis' JUnit reports into this directory")
    parser.add_argument("st_args", nargs="*", help="more `st run` options, after `--`")
    args = parser.parse_args(argv)

    failed = []
    with tempfile.TemporaryDirectory(prefix="backupd-st-") as tmp, postgres_server(args.server_url) as server:
        passes = (
            ("without an API key", None, "open"),
            ("with an admin API key", API_KEY, "admin"),
            ("with an operator API key", OPERATOR_KEY, "operator"),  # 403 for what it may not do, documented
            ("with a viewer API key", VIEWER_KEY, "viewer"),
        )
        for label, key, name in passes:
            workdir = Path(tmp) / name
            workdir.mkdir()
            with throwaway_database(server) as database_url, throwaway_database(server) as drill_url:
                log(
                    f"{label}: database {conninfo_to_dict(database_url)['dbname']} (drills into"
                    f" {conninfo_to_dict(drill_url)['dbname']}) on {server.split('@')[-1]}"
                )
                with backupd_serve(database_url, drill_url, workdir, key) as base:
                    rc = schemathesis(
                        base,
                        seed=args.seed,
                        max_examples=args.max_examples,
                        api_key=key,
                        extra=args.st_args,
                        workdir=workdir,
                        report_dir=(args.keep_report or workdir) / workdir.name,
                    )
            if rc != 0:
                failed.append(label)
    if failed:
        log(f"FAILED ({', '.join(failed)}): the API and /openapi.json disagree (see the findings above)")
        return 1
    log("passed: no findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
