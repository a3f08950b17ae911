"""`verify` and the archive reader against damaged and hostile archives."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from backupd.archive import ArchiveReader, verify_archive
from backupd.backup.engine import create_backup
from backupd.errors import ArchiveError
from tests.support.zipcraft import CraftedMember, craft_zip


@pytest.fixture
def archive(db, database_url: str, tmp_path: Path) -> Path:
    db.execute(
        "INSERT INTO cameras (id, name, folder_path) VALUES ('front', 'Front', '/c/front'), ('back', 'Back', '/c/back')"
    )
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at, summary, entities)"
        " SELECT 'b' || g, 'front', '2026-01-01'::timestamptz + g * interval '1 minute', repeat('x', 50), '{\"a\": 1}'"
        " FROM generate_series(1, 300) g"
    )
    db.execute("INSERT INTO settings (key, value) VALUES ('theme', '\"dark\"'), ('nothing', 'null')")
    return create_backup(database_url, tmp_path / "good.zip").path


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def run_verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backupd.cli", "verify", str(path)], capture_output=True, text=True, timeout=120
    )


def test_sound_archive_verifies_with_exit_0(archive: Path) -> None:
    manifest = verify_archive(archive)
    assert manifest.contents["events"].count == 300
    proc = run_verify(archive)
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout and "8 tables" in proc.stdout and "304 rows" in proc.stdout


def assert_verify_fails(path: Path, message: str) -> None:
    with pytest.raises(ArchiveError) as info:
        verify_archive(path)
    assert message in str(info.value)
    proc = run_verify(path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backupd: error: ") and message in lines[0], proc.stderr


def test_truncated_file(archive: Path, tmp_path: Path) -> None:
    data = archive.read_bytes()
    for cut in (len(data) // 2, len(data) - 10):
        bad = tmp_path / f"cut{cut}.zip"
        bad.write_bytes(data[:cut])
        assert_verify_fails(bad, "not a valid ZIP archive")


def test_flipped_byte_in_member_data(archive: Path, tmp_path: Path) -> None:
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("events.jsonl")
    # the member's compressed data starts after its local header (30 bytes + name + extra)
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    middle = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    data[middle] ^= 0xFF
    bad = tmp_path / "flipped.zip"
    bad.write_bytes(bytes(data))
    assert_verify_fails(bad, "events")


def test_changed_content_with_valid_crc_is_a_checksum_mismatch(archive: Path, tmp_path: Path) -> None:
    members = members_of(archive)
    members["settings.jsonl"] = members["settings.jsonl"].replace(b"dark", b"lite")
    assert_verify_fails(rezip(tmp_path / "edited.zip", members), "Checksum mismatch for settings: expected ")


def test_wrong_line_count(archive: Path, tmp_path: Path) -> None:
    members = members_of(archive)
    manifest = json.loads(members["manifest.json"])
    manifest["contents"]["settings"]["count"] = 3
    members["manifest.json"] = json.dumps(manifest).encode()
    assert_verify_fails(rezip(tmp_path / "count.zip", members), "Row count mismatch for settings: expected 3, got 2")


def test_removed_member(archive: Path, tmp_path: Path) -> None:
    members = members_of(archive)
    del members["zones.jsonl"]
    assert_verify_fails(rezip(tmp_path / "missing.zip", members), "archive is missing member zones.jsonl")


def test_extra_member(archive: Path, tmp_path: Path) -> None:
    members = members_of(archive)
    members["notes.txt"] = b"hello"
    assert_verify_fails(rezip(tmp_path / "extra.zip", members), "unexpected member in archive: notes.txt")


@pytest.mark.parametrize("name", ["../evil.jsonl", "/etc/passwd", "sub/dir.jsonl", "a\\b.jsonl"])
def test_traversal_and_path_names(archive: Path, tmp_path: Path, name: str) -> None:
    members = members_of(archive)
    members[name] = b"{}\n"
    assert_verify_fails(rezip(tmp_path / "traversal.zip", members), "unsafe member name in archive")


def test_traversal_name_in_manifest(archive: Path, tmp_path: Path) -> None:
    members = members_of(archive)
    manifest = json.loads(members["manifest.json"])
    manifest["contents"]["../x"] = manifest["contents"].pop("settings")
    members["manifest.json"] = json.dumps(manifest).encode()
    assert_verify_fails(rezip(tmp_path / "manifest-traversal.zip", members), "unsafe table name '../x'")


def test_wrong_version(archive: Path, tmp_path: Path) -> None:
    members = members_of(archive)
    manifest = json.loads(members["manifest.json"])
    manifest["version"] = "2.0"
    members["manifest.json"] = json.dumps(manifest).encode()
    assert_verify_fails(rezip(tmp_path / "v2.zip", members), "Unsupported backup version: 2.0. Expected: 1.0 or 1.1")


def test_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "plain.zip"
    bad.write_text("id,name\n1,x\n")
    assert_verify_fails(bad, "not a valid ZIP archive")


def test_line_that_is_not_a_json_object(archive: Path, tmp_path: Path) -> None:
    members = members_of(archive)
    body = b'{"key": "a", "value": "1", "updated_at": null}\n[1, 2]\n'
    members["settings.jsonl"] = body
    manifest = json.loads(members["manifest.json"])
    manifest["contents"]["settings"].update(count=2, bytes=len(body), checksum=hashlib.sha256(body).hexdigest())
    members["manifest.json"] = json.dumps(manifest).encode()
    assert_verify_fails(rezip(tmp_path / "array.zip", members), "settings line 2 is not a JSON object")


def _bomb(tmp_path: Path, real_size: int, declared: int) -> Path:
    data = b"{" + b" " * (real_size - 3) + b"}\n"
    manifest = {
        "backup_id": "bomb",
        "version": "1.0",
        "created_at": "2026-01-01T00:00:00Z",
        "contents": {"settings": {"count": 1, "checksum": "0" * 64, "bytes": declared}},
    }
    body = craft_zip(
        [
            CraftedMember("settings.jsonl", data, declared_size=declared),
            CraftedMember("manifest.json", json.dumps(manifest).encode()),
        ]
    )
    path = tmp_path / "bomb.zip"
    path.write_bytes(body)
    return path


def test_zip_bomb_stops_at_the_declared_size(tmp_path: Path) -> None:
    """Headers and manifest claim 1000 bytes; the deflate stream would inflate to 400 MiB."""
    path = _bomb(tmp_path, real_size=400 * 1024 * 1024, declared=1000)
    assert path.stat().st_size < 1024 * 1024  # 400 MiB of spaces deflate to well under 1 MiB
    started = time.monotonic()
    assert_verify_fails(
        path, "member settings.jsonl inflates beyond its declared size of 1000 bytes (possible zip bomb)"
    )
    assert time.monotonic() - started < 10  # stopped at the budget instead of inflating 400 MiB


def test_zip_directory_size_disagreeing_with_manifest(tmp_path: Path) -> None:
    path = _bomb(tmp_path, real_size=4096, declared=4096)
    members = members_of_crafted(path)
    manifest = json.loads(members["manifest.json"])
    manifest["contents"]["settings"]["bytes"] = 10
    members["manifest.json"] = json.dumps(manifest).encode()
    assert_verify_fails(
        rezip(tmp_path / "sizes.zip", members),
        "size of settings in the ZIP directory (4096) differs from the manifest (10)",
    )


def members_of_crafted(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.open(info).read() for info in zf.infolist()}


def test_reader_checks_structure_before_any_data(archive: Path) -> None:
    with ArchiveReader(archive) as reader:
        order = reader.tables
        assert order.index("cameras") < order.index("events") < order.index("alerts")
        assert order.index("cameras") < order.index("zones") and order.index("cameras") < order.index("baselines")
        assert set(reader.tables) == {
            "events",
            "alerts",
            "cameras",
            "zones",
            "prompts",
            "baselines",
            "household_members",
            "settings",
        }
