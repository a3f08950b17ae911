"""The archive store (docs/operations.md): one interface, a directory and an S3-compatible bucket behind it.

The S3 tests run against a real S3 server (moto_server started by the tests, see s3server.py).
"""

from __future__ import annotations

import json
import os
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from backupd.archive import ArchiveReader, verify_archive
from backupd.backup.engine import create_backup
from backupd.errors import ArchiveError
from backupd.restore.engine import restore_from_backup
from backupd.store import (
    NotFound,
    Store,
    StoreError,
    archive_id,
    archive_name,
    open_store,
)
from tests.support.api import fill_app_data, table_fingerprint
from tests.support.s3server import S3Server

BACKUP_ID = "0192f3a1-0000-7000-8000-0000000000aa"
CREATED_AT = datetime(2026, 11, 30, 2, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "directory":
        return open_store(str(tmp_path / "archives"))
    return open_store(
        request.getfixturevalue("s3_store_url"), s3_endpoint=request.getfixturevalue("s3_server").endpoint
    )


def test_names_carry_time_and_full_id() -> None:
    name = archive_name(BACKUP_ID, CREATED_AT)
    assert name == f"backupd-20261130T020000Z-{BACKUP_ID}.zip"
    assert archive_name(BACKUP_ID, CREATED_AT, encrypted=True).endswith(".zip.age")
    assert archive_id(name) == BACKUP_ID and archive_id("other.zip") is None


def test_write_read_list_delete(store: Store) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    name = archive_name(BACKUP_ID, CREATED_AT)
    size = store.write(name, (data[i : i + 65536] for i in range(0, len(data), 65536)))
    assert size == len(data) == store.info(name).size
    with store.open(name) as f:
        f.seek(-22, os.SEEK_END)
        assert f.read() == data[-22:]
        f.seek(1000)
        assert f.read(5000) == data[1000:6000]
    assert b"".join(store.iter_range(name, 10, 2 * 1024 * 1024 + 5)) == data[10 : 2 * 1024 * 1024 + 5]
    assert [o.name for o in store.archives()] == [name]
    assert store.find(BACKUP_ID).name == name and store.find(name).name == name
    assert store.latest().name == name
    assert store.name_of(store.location(name)) == name
    store.delete(name)
    store.delete(name)  # a missing object is not an error
    assert store.archives() == []
    with pytest.raises(NotFound):
        store.info(name)
    with pytest.raises(NotFound):
        store.open(name)
    with pytest.raises(NotFound):
        store.find(BACKUP_ID)


def test_a_failed_write_leaves_nothing(store: Store) -> None:
    def failing():
        yield os.urandom(6 * 1024 * 1024)
        yield os.urandom(6 * 1024 * 1024)  # more than one multipart part is on its way
        raise ArchiveError("the backup failed midway")

    with pytest.raises(ArchiveError, match="the backup failed midway"):
        store.write(archive_name(BACKUP_ID, CREATED_AT), failing())
    assert store.list() == []
    assert store.abort_unfinished() == 0  # nothing unfinished left either


def test_latest_is_the_newest_by_time(store: Store) -> None:
    for hour in (1, 3, 2):
        store.write(archive_name(f"0192f3a1-0000-7000-8000-00000000000{hour}", CREATED_AT.replace(hour=hour)), [b"x"])
    store.write("not-an-archive.txt", [b"y"])
    assert [archive_id(o.name)[-1] for o in store.archives()] == ["3", "2", "1"]
    assert store.latest().name.startswith("backupd-20261130T030000Z-")


def test_unreachable_s3_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    store = open_store("s3://nowhere/prefix", s3_endpoint="http://127.0.0.1:9")
    with pytest.raises(StoreError) as caught:
        store.list()
    assert "\n" not in str(caught.value)
    assert (
        str(caught.value)
        == "store http://127.0.0.1:9 did not answer: connection refused (list of s3://nowhere/prefix/)"
    )
    with pytest.raises(StoreError, match="unsupported store"):
        open_store("ftp://example.com/x")


def test_round_trip_through_the_store(store: Store, db: psycopg.Connection, database_url: str) -> None:
    fill_app_data(db, events=2000)
    before = table_fingerprint(db)
    target = store.archive(archive_name(BACKUP_ID, CREATED_AT))
    result = create_backup(database_url, target, backup_id=BACKUP_ID, created_at=CREATED_AT)
    assert result.size_bytes == store.info(target.name).size
    assert verify_archive(target).backup_id == BACKUP_ID
    db.execute("DELETE FROM alerts")
    db.execute("UPDATE events SET notes = 'changed'")

    restore_from_backup(database_url, store.latest())

    assert table_fingerprint(db) == before


def test_archives_are_byte_identical_in_both_stores(
    db: psycopg.Connection, database_url: str, tmp_path: Path, s3_store_url: str, s3_server: S3Server
) -> None:
    fill_app_data(db, events=3000)
    directory = open_store(str(tmp_path / "archives"))
    bucket = open_store(s3_store_url, s3_endpoint=s3_server.endpoint)
    name = archive_name(BACKUP_ID, CREATED_AT)
    for store in (directory, bucket):
        create_backup(database_url, store.archive(name), backup_id=BACKUP_ID, created_at=CREATED_AT)
    with directory.open(name) as a, bucket.open(name) as b, zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        assert za.namelist() == zb.namelist()
        for member in za.namelist():
            if member != "manifest.json":
                assert za.read(member) == zb.read(member), member
        # Each backup records the snapshot it read (format 1.1, for the next backup's reuse proof):
        # the only difference between two backups of unchanged data.
        manifests = [json.loads(z.read("manifest.json")) for z in (za, zb)]
        assert manifests[0]["origin"]["snapshot"] and manifests[1]["origin"]["snapshot"]
        for manifest in manifests:
            del manifest["origin"]
        assert manifests[0] == manifests[1]


def test_reading_does_not_copy_the_archive_to_disk(
    db: psycopg.Connection, database_url: str, s3_store_url: str, s3_server: S3Server
) -> None:
    """Verify and the manifest read go through ranged GETs: no file appears while they run."""
    fill_app_data(db, events=2000)
    store = open_store(s3_store_url, s3_endpoint=s3_server.endpoint)
    target = store.archive(archive_name(BACKUP_ID, CREATED_AT))
    create_backup(database_url, target, backup_id=BACKUP_ID, created_at=CREATED_AT)

    def open_files() -> set[str]:
        links = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                link = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if link.startswith("/") and not link.startswith(("/dev/", "/proc/")):
                links.add(link)
        return links

    before = open_files()
    opened_files: list[str] = []
    stop = threading.Event()

    def watch() -> None:  # every file this process opens while reading (a local copy would be one)
        while not stop.is_set():
            opened_files.extend(open_files() - before)
            stop.wait(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ArchiveReader(target) as reader:
            assert reader.manifest.backup_id == BACKUP_ID
        verify_archive(target)
    finally:
        stop.set()
        watcher.join()
    assert opened_files == []
