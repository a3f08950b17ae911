"""Faults: every corrupted archive and every crash leaves the database unchanged (or fully restored)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.db.connection import connect
from backupd.errors import ArchiveError, BackupdError, RestoreError
from backupd.restore.engine import restore_from_backup
from tests.support.restore import (
    env_without_test_vars,
    fill_adversarial,
    fill_volume,
    rewrite_archive,
    snapshot,
    staging_schema_exists,
)

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def archive(db: psycopg.Connection, database_url: str, backup_dir: Path) -> Path:
    """A sound archive of adversarial data; afterwards the live data differs from it."""
    fill_adversarial(db)
    path = create_backup(database_url, backup_dir / "good.zip").path
    db.execute("DELETE FROM alerts WHERE dedup_key = 'numbers'")
    db.execute("UPDATE cameras SET status = 'unknown'")
    db.execute("INSERT INTO settings (key, value) VALUES ('after-backup', '1')")
    return path


def member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def manifest_of(path: Path) -> dict:
    return json.loads(member(path, "manifest.json"))


def with_member(src: Path, dst: Path, name: str, data: bytes, *, fix_manifest: bool) -> Path:
    """Replace a member; with fix_manifest the manifest's checksum/bytes/count follow, so only the
    content itself is wrong (as if the archive had been forged or written by a buggy tool)."""
    manifest = None
    if fix_manifest:
        doc = manifest_of(src)
        entry = doc["contents"][name.removesuffix(".jsonl")]
        entry["checksum"] = hashlib.sha256(data).hexdigest()
        entry["bytes"] = len(data)
        entry["count"] = data.count(b"\n")
        manifest = json.dumps(doc).encode()
    rewrite_archive(src, dst, {name: data}, manifest)
    return dst


def replace_line(data: bytes, lineno: int, new: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[lineno - 1] = new
    return b"\n".join(lines)


def flip_member_byte(src: Path, dst: Path, name: str) -> Path:
    raw = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(name)
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    data_start = info.header_offset + 30 + name_len + extra_len
    raw[data_start + info.compress_size // 2] ^= 0x55
    dst.write_bytes(bytes(raw))
    return dst


def case_flipped_byte(src: Path, tmp: Path) -> Path:
    return flip_member_byte(src, tmp / "flipped.zip", "events.jsonl")


def case_truncated_half(src: Path, tmp: Path) -> Path:
    data = src.read_bytes()
    (tmp / "half.zip").write_bytes(data[: len(data) // 2])
    return tmp / "half.zip"


def case_truncated_tail(src: Path, tmp: Path) -> Path:
    data = src.read_bytes()
    (tmp / "tail.zip").write_bytes(data[:-10])
    return tmp / "tail.zip"


def case_checksum_mismatch(src: Path, tmp: Path) -> Path:
    data = member(src, "events.jsonl")
    changed = data.replace(b'"batch_id":"b2"', b'"batch_id":"b9"')
    assert changed != data and len(changed) == len(data)
    return with_member(src, tmp / "checksum.zip", "events.jsonl", changed, fix_manifest=False)


def case_wrong_version(src: Path, tmp: Path) -> Path:
    doc = manifest_of(src)
    doc["version"] = "2.0"
    rewrite_archive(src, tmp / "version.zip", {}, json.dumps(doc).encode())
    return tmp / "version.zip"


def case_missing_member(src: Path, tmp: Path) -> Path:
    rewrite_archive(src, tmp / "missing.zip", {"zones.jsonl": None})
    return tmp / "missing.zip"


def case_row_count(src: Path, tmp: Path) -> Path:
    doc = manifest_of(src)
    doc["contents"]["alerts"]["count"] += 1
    rewrite_archive(src, tmp / "count.zip", {}, json.dumps(doc).encode())
    return tmp / "count.zip"


def case_bad_json_line(src: Path, tmp: Path) -> Path:
    data = replace_line(member(src, "events.jsonl"), 2, b'{"id": 2, "batch_id": "b1", oops}')
    return with_member(src, tmp / "badjson.zip", "events.jsonl", data, fix_manifest=True)


def case_bad_value(src: Path, tmp: Path) -> Path:
    data = member(src, "events.jsonl").replace(b'"risk_score":55', b'"risk_score":"high"')
    return with_member(src, tmp / "badvalue.zip", "events.jsonl", data, fix_manifest=True)


def case_null_in_not_null(src: Path, tmp: Path) -> Path:
    data = member(src, "zones.jsonl").replace(b'"name":"Porch"', b'"name":null')
    return with_member(src, tmp / "notnull.zip", "zones.jsonl", data, fix_manifest=True)


def case_broken_reference(src: Path, tmp: Path) -> Path:
    data = member(src, "alerts.jsonl").replace(b'"event_id":3', b'"event_id":99')
    return with_member(src, tmp / "fk.zip", "alerts.jsonl", data, fix_manifest=True)


def case_not_an_object(src: Path, tmp: Path) -> Path:
    data = replace_line(member(src, "settings.jsonl"), 3, b"[1, 2]")
    return with_member(src, tmp / "array.zip", "settings.jsonl", data, fix_manifest=True)


CASES: list[tuple[str, Callable[[Path, Path], Path], type[BackupdError], str]] = [
    ("flipped byte", case_flipped_byte, ArchiveError, r"events"),
    ("truncated half", case_truncated_half, ArchiveError, r"."),
    ("truncated tail", case_truncated_tail, ArchiveError, r"."),
    (
        "checksum",
        case_checksum_mismatch,
        ArchiveError,
        r"^Checksum mismatch for events: expected [0-9a-f]{64}, got [0-9a-f]{64}$",
    ),
    ("version", case_wrong_version, ArchiveError, r"^Unsupported backup version: 2\.0\. Expected: 1\.0 or 1\.1$"),
    ("missing member", case_missing_member, ArchiveError, r"missing member zones\.jsonl"),
    ("row count", case_row_count, ArchiveError, r"^Row count mismatch for alerts: expected 5, got 4$"),
    ("bad json", case_bad_json_line, RestoreError, r"^events line 2: invalid input syntax for type json"),
    ("bad value", case_bad_value, RestoreError, r"^events line 3: invalid input syntax for type integer"),
    ("not null", case_null_in_not_null, RestoreError, r"^zones line 1: null value in column \"name\""),
    ("foreign key", case_broken_reference, RestoreError, r"alerts.*foreign key"),
    ("not an object", case_not_an_object, RestoreError, r"^settings line 3"),
]


@pytest.mark.parametrize(("make", "error", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_corrupted_archive_changes_nothing(
    db: psycopg.Connection,
    database_url: str,
    archive: Path,
    tmp_path: Path,
    make: Callable[[Path, Path], Path],
    error: type[BackupdError],
    message: str,
) -> None:
    bad = make(archive, tmp_path)
    before = snapshot(db)
    with pytest.raises(error, match=message) as info:
        restore_from_backup(database_url, bad)
    assert "\n" not in str(info.value)
    assert snapshot(db) == before
    assert not staging_schema_exists(db)
    # And the sound archive still restores afterwards.
    restore_from_backup(database_url, archive)


def test_leftover_staging_is_removed(db: psycopg.Connection, database_url: str, archive: Path) -> None:
    db.execute("CREATE SCHEMA backupd_staging; CREATE TABLE backupd_staging.t0_raw (doc text)")
    restore_from_backup(database_url, archive)
    assert not staging_schema_exists(db)


# ---------------------------------------------------------------------------------------------
# SIGKILL at several moments


def fingerprint(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    out = {}
    for table in ("cameras", "events", "alerts", "zones", "prompts", "baselines", "household_members", "settings"):
        out[table] = conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
        ).fetchone()
    return out


def restore_process(database_url: str, archive: Path) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from backupd.restore import restore_from_backup;"
        " restore_from_backup(sys.argv[1], sys.argv[2], lock_timeout='60s')"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, database_url, str(archive)],
        cwd=PROJECT,
        env=env_without_test_vars(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_query(
    conn: psycopg.Connection, proc: subprocess.Popen[bytes], pattern: str, waiting: bool = False, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'backupd-restore'"
            " AND state = 'active' AND query ILIKE %s AND (NOT %s OR wait_event_type = 'Lock')",
            [pattern, waiting],
        ).fetchone()
        if row[0]:
            return
        if proc.poll() is not None:
            raise AssertionError(f"restore ended before {pattern!r}: {proc.stderr.read().decode()[-500:]}")
        time.sleep(0.002)
    raise AssertionError(f"timed out waiting for {pattern!r}")


def wait_for_restore_sessions_to_end(conn: psycopg.Connection, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'backupd-restore%'"
            " AND datname = current_database()"
        ).fetchone()[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the killed restore's sessions did not end")


@pytest.fixture
def volume_archive(db: psycopg.Connection, database_url: str, backup_dir: Path) -> tuple[Path, dict, dict]:
    """(archive, fingerprint of the archive's data, fingerprint of the live data that differs)."""
    fill_volume(db, 15000)
    path = create_backup(database_url, backup_dir / "vol.zip").path
    new = fingerprint(db)
    db.execute("DELETE FROM alerts WHERE event_id > 10000")
    db.execute("DELETE FROM events WHERE id > 10000")
    db.execute("UPDATE events SET summary = 'old' WHERE id <= 1000")
    db.execute("INSERT INTO settings (key, value) VALUES ('old', 'true')")
    return path, new, fingerprint(db)


# (pattern of the restore's statement to kill it in, waiting for a lock?, data expected, set-up):
# set-up "writer" holds the swap's lock back (readers never do for long); "sequence" holds the
# events sequence, which the catalog swap re-owns after it has moved tables; "rule" is something
# the catalog swap cannot carry, so the restore replaces the rows in place.
MOMENTS = [
    ("loading", 'COPY "backupd_staging".%', False, "old", None),
    ("building", 'CREATE %INDEX % ON "backupd_staging".%', False, "old", None),
    ("waiting-for-lock", "LOCK TABLE %", True, "old", "writer"),
    ("mid-catalog-swap", "ALTER SEQUENCE %", True, "old", "sequence"),
    ("in-place-waiting-for-lock", "LOCK TABLE %", True, "old", "writer+rule"),
    ("in-place-swapping", 'INSERT INTO "public"."events"%', False, "old", "rule"),
    ("in-place-analyzing", 'ANALYZE "public".%', False, "new", "rule"),
]


@pytest.mark.parametrize(
    ("pattern", "waiting", "expect", "setup"), [m[1:] for m in MOMENTS], ids=[m[0] for m in MOMENTS]
)
def test_sigkill_leaves_old_or_new_data(
    db: psycopg.Connection,
    database_url: str,
    volume_archive: tuple[Path, dict, dict],
    pattern: str,
    waiting: bool,
    expect: str,
    setup: str | None,
) -> None:
    path, new, old = volume_archive
    blocker = None
    if setup and "rule" in setup:
        db.execute("CREATE RULE settings_notify AS ON UPDATE TO settings DO ALSO NOTIFY settings_changed")
    if setup and setup.startswith("writer"):
        blocker = connect(database_url)
        blocker.execute("BEGIN")
        blocker.execute("UPDATE zones SET priority = priority")  # a writer holds the swap back
    elif setup == "sequence":
        blocker = connect(database_url)
        blocker.execute("BEGIN")
        blocker.execute("SELECT setval('events_id_seq', last_value, is_called) FROM events_id_seq")
    proc = restore_process(database_url, path)
    try:
        wait_for_query(db, proc, pattern, waiting)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if blocker is not None:
            blocker.close()
    wait_for_restore_sessions_to_end(db)
    state = fingerprint(db)
    assert state in (old, new)
    assert state == (new if expect == "new" else old)
    # The next restore cleans up whatever the killed one left and succeeds.
    restore_from_backup(database_url, path)
    assert fingerprint(db) == new
    assert not staging_schema_exists(db)
    assert (
        db.execute(
            "INSERT INTO events (batch_id, camera_id, started_at) VALUES ('x', 'vol-1', now()) RETURNING id"
        ).fetchone()[0]
        == 15001
    )


def test_many_pieces_keep_order_and_line_numbers(
    db: psycopg.Connection, database_url: str, backup_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members are loaded in pieces, several at once: line numbers count across pieces, and each
    piece's rows stay together in archive order."""
    from backupd.restore import shadows as staging
    from backupd.restore.loader import _pieces

    monkeypatch.setattr(staging, "PIECE_BYTES", 4000)
    fill_volume(db, 400)
    good = create_backup(database_url, backup_dir / "v.zip").path
    expected = fingerprint(db)
    data = member(good, "events.jsonl")
    lines = data.split(b"\n")
    lines[349] = lines[349].replace(b'"summary":', b'"risk_score":"x","summary":', 1)
    bad = with_member(good, tmp_path / "bad.zip", "events.jsonl", b"\n".join(lines), fix_manifest=True)
    db.execute("DELETE FROM alerts")
    before = snapshot(db)
    with pytest.raises(RestoreError, match=r"^events line 350: invalid input syntax for type integer"):
        restore_from_backup(database_url, bad)
    assert snapshot(db) == before and not staging_schema_exists(db)

    restore_from_backup(database_url, good)
    assert fingerprint(db) == expected
    pieces = list(_pieces(iter([data]), 4000))
    assert len(pieces) >= 40 and b"".join(pieces) == data
    # In the heap, each piece's rows are one run of increasing ids (the archive's order): fewer
    # descents than pieces, however the parallel loads interleave.
    ids = [r[0] for r in db.execute("SELECT id FROM events ORDER BY ctid").fetchall()]
    assert sorted(ids) == list(range(1, 401))
    assert sum(a > b for a, b in pairwise(ids)) < len(pieces)
