"""The store from the command line: disaster recovery from the store alone, a backup killed mid-upload,
bounded local disk, and the SOURCE forms of restore / verify / drill (docs/cli.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.store import archive_id, open_store
from tests.support.api import fill_app_data, table_fingerprint
from tests.support.s3server import S3Server


def cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backupd", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
    )


@pytest.fixture
def s3_env(s3_store_url: str, s3_server: S3Server, tmp_path: Path) -> dict[str, str]:
    return {
        **s3_server.env,
        "BACKUPD_STORE": s3_store_url,
        "BACKUPD_S3_ENDPOINT": s3_server.endpoint,
        "BACKUPD_DATA_DIR": str(tmp_path / "data"),
    }


def test_disaster_recovery_from_the_store_alone(
    db: psycopg.Connection, database_url: str, empty_database_url: str, s3_env: dict[str, str]
) -> None:
    fill_app_data(db, events=1500)
    expected = table_fingerprint(db)
    first = cli(["backup"], {**s3_env, "BACKUPD_DATABASE_URL": database_url})
    assert first.returncode == 0, first.stderr
    db.execute("INSERT INTO settings (key, value) VALUES ('later', '1')")
    newest = cli(["backup"], {**s3_env, "BACKUPD_DATABASE_URL": database_url})
    assert newest.returncode == 0, newest.stderr
    assert newest.stdout.startswith(s3_env["BACKUPD_STORE"] + "/backupd-")

    # A new machine: a brand-new empty database, nothing but the store's address and keys.
    new_machine = {**s3_env, "BACKUPD_DATABASE_URL": empty_database_url}
    listing = cli(["list"], new_machine)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == f"2 archive(s) in {s3_env['BACKUPD_STORE']}/"
    store = open_store(s3_env["BACKUPD_STORE"], s3_endpoint=s3_env["BACKUPD_S3_ENDPOINT"])
    newest_id, oldest_id = [archive_id(o.name) for o in store.archives()]
    assert lines[1].startswith(newest_id) and "not encrypted" in lines[1]
    assert any(line.split() == ["events", "1,500", "rows"] for line in lines)
    assert any(line.split() == ["settings", "3", "rows"] for line in lines)
    with psycopg.connect(empty_database_url) as conn:  # `list` did not touch the database
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0

    restored = cli(["restore", "--latest", "--yes"], new_machine)
    assert restored.returncode == 0, restored.stderr
    assert f"restored backup {newest_id}" in restored.stdout
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT value::text FROM settings WHERE key = 'later'").fetchone() == ("1",)
    by_id = cli(["restore", oldest_id, "--yes"], new_machine)
    assert by_id.returncode == 0, by_id.stderr
    with psycopg.connect(empty_database_url) as conn:
        assert table_fingerprint(conn) == expected

    assert cli(["verify", "--latest"], new_machine).returncode == 0
    unknown = cli(["restore", "0192f3a1-0000-7000-8000-000000000000", "--yes"], new_machine)
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1
    assert unknown.stderr.startswith("backupd: error: no such file, and no archive named or with id 0192f3a1-")


def test_a_backup_killed_mid_upload_leaves_no_object_and_its_upload_is_aborted_next_time(
    db: psycopg.Connection, database_url: str, s3_env: dict[str, str], s3_server: S3Server
) -> None:
    # Random text does not compress: several 8 MiB parts are on their way when the process dies
    # (60 MiB: with 20 MiB a fast run once finished between two looks at the bucket).
    db.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('cam', 'Cam', '/c')")
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at, notes)"
        " SELECT 'b', 'cam', now(), string_agg(md5(random()::text), '') FROM generate_series(1, 120000) g,"
        " generate_series(1, 16) h GROUP BY g"
    )
    bucket = s3_env["BACKUPD_STORE"].removeprefix("s3://").split("/")[0]
    env = {**os.environ, **s3_env, "BACKUPD_DATABASE_URL": database_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backupd", "backup"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not s3_server.uploads(bucket):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no multipart upload started"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert s3_server.keys(bucket) == []  # no object, not even a partial one
    assert len(s3_server.uploads(bucket)) == 1  # the dead upload, until the next backup

    again = cli(["backup"], {**s3_env, "BACKUPD_DATABASE_URL": database_url})
    assert again.returncode == 0, again.stderr
    assert s3_server.uploads(bucket) == []
    assert len(s3_server.keys(bucket)) == 1


def test_local_disk_stays_bounded_while_backing_up_to_s3(
    db: psycopg.Connection, database_url: str, s3_store_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    """The archive goes to the bucket; what touches local disk are the part spools only (≤ 64 MiB)."""
    db.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('cam', 'Cam', '/c')")
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at, notes)"
        " SELECT 'b', 'cam', now(), string_agg(md5((g * h)::text), ' ') FROM generate_series(1, 150000) g,"
        " generate_series(1, 40) h GROUP BY g"
    )
    db.execute("ANALYZE events")  # the size estimate splits the table into parts read in parallel
    spool = tmp_path / "spool"
    peak = 0
    stop = threading.Event()

    def sample() -> None:  # the spools are unlinked files: their sizes are seen through /proc/self/fd
        nonlocal peak
        while not stop.is_set():
            total = 0
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if os.readlink(f"/proc/self/fd/{fd}").startswith(str(spool)):
                        total += os.stat(f"/proc/self/fd/{fd}").st_blocks * 512
                except OSError:
                    continue
            peak = max(peak, total)
            stop.wait(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        store = open_store(s3_store_url, s3_endpoint=s3_server.endpoint)
        result = create_backup(
            database_url,
            store.archive("backupd-20261130T000000Z-0192f3a1-0000-7000-8000-000000000001.zip"),
            spool_dir=spool,
        )
    finally:
        stop.set()
        sampler.join()
    uncompressed = sum(entry.bytes or 0 for entry in result.manifest.contents.values())
    print(
        f"uncompressed {uncompressed / 2**20:.0f} MiB, archive {result.size_bytes / 2**20:.0f} MiB,"
        f" peak local spool {peak / 2**20:.1f} MiB"
    )
    assert uncompressed > 200 * 2**20
    assert 0 < peak < 64 * 2**20
    assert list(spool.iterdir()) == []
