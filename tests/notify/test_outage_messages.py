"""A store that stops answering mid-way reads as an outage naming the store and the cause, never as a corrupted
archive (issue 24), with a private moto_server that is killed while a restore or a backup is reading or writing."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from backupd import DEFAULT_TABLES
from backupd.backup.engine import create_backup
from backupd.errors import BackupdError
from backupd.progress import Progress
from backupd.restore.engine import restore_from_backup
from backupd.store.s3 import S3ArchiveStore
from tests.support.api import fill_app_data
from tests.support.receivers import free_port
from tests.support.s3server import TEST_KEYS, S3Server


class Moto:
    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "wb")  # noqa: SIM115 - closed by stop()
        moto = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    for key, value in TEST_KEYS.items():
        monkeypatch.setenv(key, value)
    server = Moto(tmp_path / "moto.log")
    yield server
    server.stop()


def test_store_outage_mid_restore_and_mid_backup_names_the_store(
    moto: Moto, database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    fill_app_data(db, 300)
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at, risk_score, risk_level, summary)"
        " SELECT 'bulk-' || g, 'yard', now(), g % 101, 'low', md5(g::text) || md5((g * 7)::text) || repeat('x', 200)"
        " FROM generate_series(1, 60000) g"
    )
    bucket = S3Server(moto.endpoint, dict(TEST_KEYS)).new_bucket()
    store = S3ArchiveStore(bucket, "backups", endpoint=moto.endpoint)
    target = store.new_archive("01a25000-0000-7000-8000-000000000001")
    create_backup(database_url, target, tables=DEFAULT_TABLES)
    size = store.list()[0].size
    assert size > 2 * 1024 * 1024, size  # more than the reader's buffer: reads continue after the kill

    def kill_once(_: Progress) -> None:
        moto.stop()

    with pytest.raises(BackupdError) as restore_error:
        restore_from_backup(
            database_url, store.archive(store.list()[0].name), tables=DEFAULT_TABLES, progress=kill_once
        )
    message = str(restore_error.value)
    print("restore:", message)
    assert message.startswith(f"store {moto.endpoint} did not answer: "), message
    assert "corrupt" not in message

    second = Moto(tmp_path / "moto2.log")  # a backup whose store stops answering while parts are uploaded
    try:
        store = S3ArchiveStore(S3Server(second.endpoint, dict(TEST_KEYS)).new_bucket(), "b", endpoint=second.endpoint)
        seen: list[int] = []

        def kill_mid_way(p: Progress) -> None:
            seen.append(p.completed_tables)
            if p.completed_tables >= 1:
                second.stop()

        with pytest.raises(BackupdError) as backup_error:
            create_backup(
                database_url,
                store.new_archive("01a25000-0000-7000-8000-000000000002"),
                tables=DEFAULT_TABLES,
                progress=kill_mid_way,
            )
    finally:
        second.stop()
    message = str(backup_error.value)
    print("backup:", message)
    assert message.startswith(f"store {second.endpoint} did not answer: connection refused"), message
    assert "uploadId" not in message
