"""Restore drills: `backupd drill PATH --database-url URL` proves an archive restores exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.cli import main
from backupd.db.connection import connect
from backupd.drill.run import run_drill
from tests.support.database import create_database, drop_database, url_for_database
from tests.support.restore import fill_adversarial, snapshot, staging_schema_exists


@pytest.fixture
def source_archive(
    db: psycopg.Connection, database_url: str, backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.delenv("BACKUPD_TABLES", raising=False)
    fill_adversarial(db)
    return create_backup(database_url, backup_dir / "a.zip").path


@pytest.fixture
def migrated_target(pg_server_url: str, template_database: str) -> Iterator[str]:
    name = create_database(pg_server_url, template=template_database)
    yield url_for_database(pg_server_url, name)
    drop_database(pg_server_url, name)


def test_drill_into_an_empty_database_passes(
    source_archive: Path,
    empty_database_url: str,
    database_url: str,
    db: psycopg.Connection,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = snapshot(db)
    # The global --database-url names the application database; the drill's own names the target.
    code = main(["--database-url", database_url, "drill", str(source_archive), "--database-url", empty_database_url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "created from the archive's definitions: " in out and "PASS" in out
    assert out.count(" ok") == 8 and "events" in out and "3 rows" in out
    assert snapshot(db) == before  # the source database was not touched
    with connect(empty_database_url) as target:
        assert snapshot(target) == before
        assert not staging_schema_exists(target)


def test_drill_into_a_database_with_other_data(source_archive: Path, migrated_target: str) -> None:
    with connect(migrated_target) as target:
        target.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('other', 'Other', '/o')")
        target.execute("INSERT INTO settings (key, value) VALUES ('other', '1')")
    report = run_drill(migrated_target, source_archive)
    assert report.ok and not report.recreated
    assert report.rows == sum(t.expected_count for t in report.tables) > 0


def test_drill_reports_a_mismatch(
    source_archive: Path, migrated_target: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target whose rows differ from the archive's after the restore must not pass: the drill compares
    the data it re-exports, not what the restore reported.

    No trigger and no rewrite rule of the target acts on restored rows (tests/restore/test_exactness.py,
    test_rules_of_the_application_do_not_act_on_restored_rows), so the rows are changed behind the
    restore's back, between the restore and the re-export, as a faulty storage layer or a concurrent
    writer would."""
    import backupd.drill.run as drill_run

    restore = drill_run.restore_from_backup

    def restore_then_tamper(database_url: str, *args: object, **kwargs: object) -> object:
        result = restore(database_url, *args, **kwargs)
        with connect(database_url) as target:
            target.execute("UPDATE events SET notes = 'tampered' WHERE id = (SELECT min(id) FROM events)")
        return result

    monkeypatch.setattr(drill_run, "restore_from_backup", restore_then_tamper)
    code = main(["drill", str(source_archive), "--database-url", migrated_target])
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    assert any(line.split()[0] == "events" and "MISMATCH" in line for line in lines if line.strip())
    assert sum("MISMATCH" in line for line in lines) == 1
    assert lines[-1].startswith("FAIL")


def test_drill_of_a_corrupted_archive_fails_with_a_report(
    source_archive: Path, empty_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(source_archive.read_bytes()[:-200])
    code = main(["drill", str(bad), "--database-url", empty_database_url])
    out = capsys.readouterr().out
    assert code == 1
    assert "error:" in out and out.splitlines()[-1].startswith("FAIL")


def test_drill_requires_a_target(source_archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["drill", str(source_archive)])
    assert info.value.code == 2
    assert "--database-url" in capsys.readouterr().err
