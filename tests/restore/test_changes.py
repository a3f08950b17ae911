"""`changes` of a restore (docs/restore-guarantees.md) are the same whether a table is compared in one FULL JOIN
or split into key ranges compared on parallel connections (issue 13 made big tables split)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.restore import changes as changes
from backupd.restore.engine import restore_from_backup
from tests.support.restore import fill_volume, snapshot


def test_split_comparison_counts_exactly_like_one_join(
    db: psycopg.Connection, database_url: str, backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_volume(db, 1000)
    archive = create_backup(database_url, backup_dir / "a.zip").path
    db.execute("DELETE FROM alerts WHERE event_id BETWEEN 101 AND 130")
    db.execute("DELETE FROM events WHERE id BETWEEN 101 AND 130")  # 30 removed by the backup's state: "added"
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at) SELECT 'n', 'vol-1', now() FROM generate_series(1, 7)"
    )  # ids 1001-1007, beyond every archived key: "removed"
    db.execute("UPDATE events SET entities = '{\"n\":  5}' WHERE id = 5")  # only whitespace differs (jsonb: same)
    db.execute("UPDATE events SET entities = 'null' WHERE id = 6")  # JSON null instead of an object
    db.execute("UPDATE events SET notes = '' WHERE id IN (7, 999)")  # '' instead of SQL NULL
    before = snapshot(db)

    whole = restore_from_backup(database_url, archive, dry_run=True).changes["events"]
    monkeypatch.setattr(changes, "SPLIT_ROWS", 10)
    split = restore_from_backup(database_url, archive, dry_run=True, workers=3).changes["events"]

    assert whole == split
    assert whole.as_dict() == {
        "archive_rows": 1000,
        "live_rows": 977,
        "added": 30,
        "removed": 7,
        "changed": 3,
        "unchanged": 967,
    }
    assert snapshot(db) == before
