"""Encryption at rest with age (docs/operations.md), interoperable with the `age` command line tool.

The `age` tool (Debian package `age`) is installed by `make test`'s set-up; without it the
interoperability tests are skipped with the reason printed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from backupd.age import AgeKeys, keygen
from backupd.archive import verify_archive
from backupd.backup.engine import create_backup
from backupd.errors import ArchiveError, ConfigError
from backupd.restore.engine import restore_from_backup
from backupd.store import open_store
from backupd.store.directory import ArchiveFile
from tests.support.api import (
    ApiServer,
    fill_app_data,
    poll,
    table_fingerprint,
)
from tests.support.s3server import S3Server

AGE = shutil.which("age")
needs_age = pytest.mark.skipif(AGE is None, reason="the age tool is not installed (Debian package 'age')")
MAGIC = b"age-encryption.org/v1\n"


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backupd", *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


@pytest.fixture
def identity(tmp_path: Path) -> tuple[Path, str]:
    text, recipient = keygen()
    path = tmp_path / "key.txt"
    path.write_text(text)
    return path, recipient


@pytest.fixture
def other_identity(tmp_path: Path) -> tuple[Path, str]:
    text, recipient = keygen()
    path = tmp_path / "other.txt"
    path.write_text(text)
    return path, recipient


def test_keygen_writes_a_private_identity_the_age_tool_reads(tmp_path: Path) -> None:
    key = tmp_path / "id.txt"
    proc = cli(["keygen", "-o", str(key)], {})
    assert proc.returncode == 0, proc.stderr
    recipient = proc.stdout.strip()
    assert recipient.startswith("age1") and len(recipient) == 62
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert f"# public key: {recipient}" in key.read_text()
    again = cli(["keygen", "-o", str(key)], {})
    assert (
        again.returncode == 1 and again.stderr == f"backupd: error: {key} exists: refusing to overwrite an identity\n"
    )
    if AGE:
        assert (
            subprocess.run(["age-keygen", "-y", str(key)], capture_output=True, text=True).stdout.strip() == recipient
        )


@needs_age
def test_our_archive_decrypts_with_the_age_tool(
    db: psycopg.Connection, database_url: str, tmp_path: Path, identity: tuple[Path, str]
) -> None:
    fill_app_data(db, events=800)
    key, recipient = identity
    env = {
        "BACKUPD_DATABASE_URL": database_url,
        "BACKUPD_STORE": str(tmp_path / "store"),
        "BACKUPD_DATA_DIR": str(tmp_path / "data"),
        "BACKUPD_ENCRYPT_TO": recipient,
    }
    proc = cli(["backup"], env)
    assert proc.returncode == 0, proc.stderr
    [stored] = list((tmp_path / "store").iterdir())
    assert stored.name.endswith(".zip.age") and proc.stdout.startswith(str(stored))
    raw = stored.read_bytes()
    assert raw.startswith(MAGIC)
    assert b"manifest.json" not in raw and b"PK\x03\x04" not in raw and b"front_door" not in raw
    plain = tmp_path / "plain.zip"
    subprocess.run([AGE, "-d", "-i", str(key), "-o", str(plain), str(stored)], check=True)
    checked = cli(["verify", str(plain)], env)
    assert checked.returncode == 0, checked.stderr
    # and backupd itself reads it: verify, list (counts), restore by id
    with_key = {**env, "BACKUPD_AGE_IDENTITY_FILE": str(key)}
    assert cli(["verify", "--latest"], with_key).returncode == 0
    listing = cli(["list"], with_key).stdout
    assert " encrypted " in listing and any(line.split() == ["events", "800", "rows"] for line in listing.splitlines())
    before = table_fingerprint(db)
    db.execute("DELETE FROM alerts")
    restored = cli(["restore", "--latest", "--yes"], with_key)
    assert restored.returncode == 0, restored.stderr
    assert table_fingerprint(db) == before


@needs_age
def test_an_archive_the_age_tool_encrypted_restores(
    db: psycopg.Connection, database_url: str, tmp_path: Path, identity: tuple[Path, str], make_server
) -> None:
    fill_app_data(db, events=500)
    key, recipient = identity
    plain = create_backup(database_url, tmp_path / "plain.zip").path
    sealed = tmp_path / "sealed.zip.age"
    subprocess.run([AGE, "-r", recipient, "-o", str(sealed), str(plain)], check=True)
    before = table_fingerprint(db)

    db.execute("DELETE FROM alerts")
    proc = cli(
        ["restore", str(sealed), "--yes"], {"BACKUPD_DATABASE_URL": database_url, "BACKUPD_AGE_IDENTITY_FILE": str(key)}
    )
    assert proc.returncode == 0, proc.stderr
    assert table_fingerprint(db) == before

    db.execute("DELETE FROM alerts")
    without = make_server()
    with without.client() as c:
        refused = c.post("/api/backup/restore", files={"file": ("b.zip.age", sealed.read_bytes())})
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "The upload is an encrypted (age) backup, but the server has no"
        " BACKUPD_AGE_IDENTITY_FILE to decrypt it"
    }
    server: ApiServer = make_server(age_identity_file=key)
    with server.client() as c:
        start = c.post("/api/backup/restore", files={"file": ("b.zip.age", sealed.read_bytes())})
        assert start.status_code == 202, start.text
        job = poll(
            c, f"/api/backup/restore/{start.json()['job_id']}", until=lambda b: b["status"] in ("completed", "failed")
        )[-1]
    assert job["status"] == "completed", job
    assert table_fingerprint(db) == before


def test_encrypted_backups_through_the_api_download_as_stored(
    db: psycopg.Connection, make_server, identity: tuple[Path, str]
) -> None:
    fill_app_data(db, events=300)
    key, recipient = identity
    server: ApiServer = make_server(encrypt_to=recipient, age_identity_file=key)
    with server.client() as c:
        job_id = c.post("/api/backup").json()["job_id"]
        job = poll(c, f"/api/backup/{job_id}", until=lambda b: b["status"] in ("completed", "failed"))[-1]
        assert job["status"] == "completed" and job["file_path"].endswith(f"{job_id}.zip.age")
        assert job["encrypted"] is True
        assert [(b["id"], b["encrypted"]) for b in c.get("/api/backup").json()["backups"]] == [(job_id, True)]
        response = c.get(f"/api/backup/{job_id}/download")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].endswith(f'{job_id}.zip.age"')
    assert response.content == Path(job["file_path"]).read_bytes() and response.content.startswith(MAGIC)


def _sealed_archive(db: psycopg.Connection, database_url: str, tmp_path: Path, recipients: tuple[str, ...]) -> Path:
    fill_app_data(db, events=12000)  # a few hundred KiB: several 64 KiB chunks
    path = tmp_path / "sealed.zip.age"
    create_backup(database_url, ArchiveFile(path, AgeKeys(recipients)))
    return path


def test_several_recipients_each_can_read(
    db: psycopg.Connection,
    database_url: str,
    tmp_path: Path,
    identity: tuple[Path, str],
    other_identity: tuple[Path, str],
) -> None:
    sealed = _sealed_archive(db, database_url, tmp_path, (identity[1], other_identity[1]))
    for key, _ in (identity, other_identity):
        assert verify_archive(ArchiveFile(sealed, AgeKeys((), key))).contents["events"].count == 12000


def test_missing_or_wrong_identity_is_one_line_and_changes_nothing(
    db: psycopg.Connection,
    database_url: str,
    tmp_path: Path,
    identity: tuple[Path, str],
    other_identity: tuple[Path, str],
) -> None:
    sealed = _sealed_archive(db, database_url, tmp_path, (identity[1],))
    db.execute("DELETE FROM alerts")
    before = table_fingerprint(db)
    env = {"BACKUPD_DATABASE_URL": database_url}
    missing = cli(["restore", str(sealed), "--yes"], env)
    assert missing.returncode == 1 and missing.stderr == (
        "backupd: error: the archive is encrypted: set BACKUPD_AGE_IDENTITY_FILE to an age identity file to read it\n"
    )
    wrong = cli(["restore", str(sealed), "--yes"], {**env, "BACKUPD_AGE_IDENTITY_FILE": str(other_identity[0])})
    assert wrong.returncode == 1 and wrong.stderr == (
        "backupd: error: the archive is encrypted to another key: no identity in BACKUPD_AGE_IDENTITY_FILE"
        f" ({other_identity[0]}) matches it\n"
    )
    assert table_fingerprint(db) == before
    with pytest.raises(ConfigError):
        verify_archive(ArchiveFile(sealed, AgeKeys()))


@pytest.mark.parametrize(
    "where",
    ["header", "first chunk", "middle chunk", "last chunk", "truncated", "truncated at a chunk boundary", "extended"],
)
def test_tampered_ciphertext_fails_and_changes_nothing(
    db: psycopg.Connection, database_url: str, tmp_path: Path, identity: tuple[Path, str], where: str
) -> None:
    sealed = _sealed_archive(db, database_url, tmp_path, (identity[1],))
    data = bytearray(sealed.read_bytes())
    payload = data.index(b"\n--- ") + 5 + 43 + 1 + 16  # header, MAC line, payload nonce
    chunks = -(-(len(data) - payload) // (65536 + 16))
    assert chunks >= 3
    if where == "header":
        data[len(MAGIC) + 12] ^= 0x01  # inside the recipient stanza
    elif where == "truncated":
        del data[-100:]
    elif where == "truncated at a chunk boundary":
        del data[payload + (chunks - 1) * (65536 + 16) :]
    elif where == "extended":
        data += os.urandom(65536 + 16)
    else:
        index = {"first chunk": 0, "middle chunk": chunks // 2, "last chunk": chunks - 1}[where]
        data[payload + index * (65536 + 16) + 7] ^= 0x80
    sealed.write_bytes(bytes(data))
    db.execute("DELETE FROM alerts")
    before = table_fingerprint(db)
    keys = AgeKeys((), identity[0])
    with pytest.raises((ArchiveError, ConfigError)) as caught:
        verify_archive(ArchiveFile(sealed, keys))
    assert "\n" not in str(caught.value)
    proc = cli(
        ["restore", str(sealed), "--yes"],
        {"BACKUPD_DATABASE_URL": database_url, "BACKUPD_AGE_IDENTITY_FILE": str(identity[0])},
    )
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("backupd: error: ")
    assert table_fingerprint(db) == before


def test_encrypted_round_trip_through_s3(
    db: psycopg.Connection, database_url: str, s3_store_url: str, s3_server: S3Server, identity: tuple[Path, str]
) -> None:
    fill_app_data(db, events=1000)
    before = table_fingerprint(db)
    store = open_store(s3_store_url, s3_endpoint=s3_server.endpoint, keys=AgeKeys((identity[1],), identity[0]))
    target = store.new_archive("0192f3a1-0000-7000-8000-0000000000ee")
    create_backup(database_url, target)
    assert target.name.endswith(".zip.age")
    with store.open(target.name) as raw:
        assert raw.read(len(MAGIC)) == MAGIC
    db.execute("DELETE FROM alerts")
    restore_from_backup(database_url, store.latest())
    assert table_fingerprint(db) == before
