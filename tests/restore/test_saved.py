"""Restoring saved backups (docs/restore-guarantees.md): by id and latest, the safety backup, dry runs, `changes`, subsets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg

from backupd import DEFAULT_TABLES
from tests.support.api import (
    ApiServer,
    fill_app_data,
    poll,
    run_backup,
    table_fingerprint,
)


def finished(body: dict[str, Any]) -> bool:
    return body["status"] in ("completed", "failed")


def start_restore(client: httpx.Client, backup_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/backup/{backup_id}/restore", json=body or None)
    assert response.status_code == 202, response.text
    return poll(client, f"/api/backup/restore/{response.json()['job_id']}", until=finished, timeout=120)[-1]


def change_everything(db: psycopg.Connection) -> None:
    """Inserts, deletes and updates in every table; the expected `changes` are in EXPECTED."""
    db.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('garage', 'Garage', '/cams/garage')")
    db.execute("UPDATE cameras SET status = 'error' WHERE id = 'yard'")
    db.execute("DELETE FROM events WHERE id IN (1, 2, 4, 5, 7)")  # no alerts point at these
    db.execute("UPDATE events SET notes = 'reviewed' WHERE id BETWEEN 10 AND 19")
    db.execute("UPDATE events SET flags = NULL WHERE id = 20")  # JSON null (archive) → SQL NULL
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at) SELECT 'new', 'yard', now() FROM generate_series(1, 3)"
    )
    db.execute("UPDATE alerts SET channels = '[ \"push\" ]' WHERE event_id IN (3, 6, 9, 12)")  # whitespace only
    db.execute("DELETE FROM alerts WHERE event_id IN (15, 18)")
    db.execute("UPDATE zones SET name = 'Garden' WHERE id = 'z1'")
    db.execute("INSERT INTO prompts (model, system_prompt) VALUES ('other', 'x')")
    db.execute("DELETE FROM baselines")
    db.execute("UPDATE household_members SET notes = 'moved out'")
    db.execute("UPDATE settings SET value = '\"light\"' WHERE key = 'theme'")


def counts(archive: int, live: int, added: int, removed: int, changed: int) -> dict[str, int]:
    return {
        "archive_rows": archive,
        "live_rows": live,
        "added": added,
        "removed": removed,
        "changed": changed,
        "unchanged": archive - added - changed,
    }


EXPECTED = {
    "cameras": counts(2, 3, 0, 1, 1),
    "events": counts(300, 298, 5, 3, 11),
    "alerts": counts(100, 98, 2, 0, 4),
    "zones": counts(1, 1, 0, 0, 1),
    "prompts": counts(1, 2, 0, 1, 0),
    "baselines": counts(1, 0, 1, 0, 0),
    "household_members": counts(1, 1, 0, 0, 1),
    "settings": counts(2, 2, 0, 0, 1),
}


def sequences(db: psycopg.Connection) -> list[tuple]:
    return db.execute(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
    ).fetchall()


def test_dry_run_reports_changes_and_changes_nothing(make_server, db: psycopg.Connection) -> None:
    fill_app_data(db, events=300)
    server: ApiServer = make_server()
    with server.client() as c:
        backup_id, _ = run_backup(c)
        server.services.runner.wait(30)
        change_everything(db)
        before, seqs = table_fingerprint(db), sequences(db)
        backups_before = db.execute(
            "SELECT id, status::text, file_path FROM backupd.backup_jobs ORDER BY id"
        ).fetchall()

        job = start_restore(c, backup_id, dry_run=True)

    assert job["status"] == "completed", job
    assert job["progress"]["current_step"] == "Dry run complete"
    assert job["dry_run"] is True and job["safety_backup_id"] is None and job["items_restored"] is None
    assert job["changes"] == EXPECTED
    assert table_fingerprint(db) == before and sequences(db) == seqs
    assert (
        db.execute("SELECT id, status::text, file_path FROM backupd.backup_jobs ORDER BY id").fetchall()
        == backups_before
    )
    assert db.execute("SELECT count(*) FROM backupd.restore_jobs").fetchone()[0] == 1


def test_restore_by_id_with_a_safety_backup_that_undoes_it(make_server, db: psycopg.Connection) -> None:
    fill_app_data(db, events=300)
    server: ApiServer = make_server()
    with server.client() as c:
        backup_id, _ = run_backup(c)
        server.services.runner.wait(30)
        archived = table_fingerprint(db)
        change_everything(db)
        changed = table_fingerprint(db)

        job = start_restore(c, backup_id)
        assert job["status"] == "completed", job
        assert job["changes"] == EXPECTED
        assert job["items_restored"] == {t: EXPECTED[t]["archive_rows"] for t in DEFAULT_TABLES}
        assert table_fingerprint(db) == archived

        safety = c.get(f"/api/backup/{job['safety_backup_id']}").json()
        assert safety["status"] == "completed" and safety["trigger"] == "safety"
        assert {k: v["count"] for k, v in safety["manifest"]["contents"].items()} == {
            t: len(rows) for t, rows in changed.items()
        }

        undo = start_restore(c, job["safety_backup_id"], safety_backup=False)
        assert undo["status"] == "completed", undo
        assert undo["safety_backup_id"] is None
    assert table_fingerprint(db) == changed


def test_subsets_and_their_refusals(make_server, db: psycopg.Connection) -> None:
    fill_app_data(db, events=300)
    server: ApiServer = make_server()
    with server.client() as c:
        backup_id, _ = run_backup(c)
        server.services.runner.wait(30)
        archived = table_fingerprint(db)
        change_everything(db)
        changed = table_fingerprint(db)

        job = start_restore(c, backup_id, tables=["settings"], safety_backup=False)
        assert job["status"] == "completed" and job["tables"] == ["settings"], job
        assert list(job["changes"]) == ["settings"] and job["items_restored"] == {"settings": 2}
        assert table_fingerprint(db) == {**changed, "settings": archived["settings"]}

        job = start_restore(c, backup_id, tables=["events", "alerts"])
        assert job["status"] == "completed", job
        undo = start_restore(c, job["safety_backup_id"], dry_run=True)  # a partial safety backup restores alone
        assert undo["status"] == "completed" and sorted(undo["tables"]) == ["alerts", "events"], undo
        assert table_fingerprint(db) == {
            **changed,
            "settings": archived["settings"],
            "events": archived["events"],
            "alerts": archived["alerts"],
        }

        db.execute("INSERT INTO events (batch_id, camera_id, started_at) VALUES ('g', 'garage', now())")
        before = table_fingerprint(db)
        job = start_restore(c, backup_id, tables=["cameras"], safety_backup=False)
        assert job["status"] == "failed"
        assert job["error_message"].startswith("the restore would delete or orphan 1 rows of events")
        assert table_fingerprint(db) == before

        refused = c.post(f"/api/backup/{backup_id}/restore", json={"tables": ["events", "ghosts", "nope"]})
        assert refused.status_code == 400 and refused.json() == {"detail": "Tables not in the archive: ghosts, nope"}
        unknown = c.post("/api/backup/0192f3a1-0000-7000-8000-000000000000/restore")
        assert unknown.status_code == 404
        assert unknown.json() == {"detail": "Backup job not found: 0192f3a1-0000-7000-8000-000000000000"}
    assert table_fingerprint(db) == before


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backupd", *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


def test_cli_latest_dry_run_subset_and_failed_safety_backup(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    fill_app_data(db, events=300)
    env = {
        "BACKUPD_DATABASE_URL": database_url,
        "BACKUPD_STORE": str(tmp_path / "store"),
        "BACKUPD_DATA_DIR": str(tmp_path / "data"),
    }
    made = cli(["backup"], env)
    assert made.returncode == 0, made.stderr
    archived = table_fingerprint(db)
    change_everything(db)
    changed = table_fingerprint(db)

    dry = cli(["restore", "--latest", "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith("dry run of backup ") and lines[0].endswith(
        "nothing was changed; the restore would change:"
    )
    assert lines[1].split() == ["table", "archive_rows", "live_rows", "added", "removed", "changed", "unchanged"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows["events"] == ["300", "298", "5", "3", "11", "284"] and len(rows) == 8
    assert table_fingerprint(db) == changed

    ghost = cli(["restore", "--latest", "--tables", "settings,ghosts", "--yes"], env)
    assert ghost.returncode == 1 and ghost.stderr == "backupd: error: tables not in the archive: ghosts\n"

    broken = {**env, "BACKUPD_STORE": str(tmp_path / "store" / os.listdir(tmp_path / "store")[0])}  # a file
    latest = sorted(os.listdir(tmp_path / "store"))[-1]
    failed = cli(["restore", str(tmp_path / "store" / latest), "--yes"], broken)
    assert failed.returncode == 1 and failed.stderr.startswith(
        "backupd: error: the safety backup failed, nothing was changed:"
    )
    assert table_fingerprint(db) == changed

    subset = cli(["restore", "--latest", "--tables", "settings", "--yes"], env)
    assert subset.returncode == 0, subset.stderr
    assert "safety backup" in subset.stdout
    assert table_fingerprint(db) == {**changed, "settings": archived["settings"]}
