"""docs/rest-api.md: the CLI keeps full rights, but its restores and prunes are audited as the OS user."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.support.api import fill_app_data


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backupd", *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


def rows(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return list(conn.execute("SELECT * FROM backupd.audit_log ORDER BY id"))


def test_cli_restore_and_prune_are_audited(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    fill_app_data(db, events=50)
    env = {
        "BACKUPD_DATABASE_URL": database_url,
        "BACKUPD_STORE": str(tmp_path / "store"),
        "BACKUPD_DATA_DIR": str(tmp_path / "data"),
    }
    made = cli(["backup"], env)
    assert made.returncode == 0, made.stderr
    assert rows(database_url) == []  # a backup changes nothing: not audited
    restored = cli(["restore", "--latest", "--yes", "--no-safety-backup"], env)
    assert restored.returncode == 0, restored.stderr
    dry = cli(["restore", "--latest", "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    pruned = cli(["prune"], env)
    assert pruned.returncode == 0, pruned.stderr
    failed = cli(["restore", "--latest", "--yes", "--tables", "nope"], env)  # refused before the restore starts
    assert failed.returncode == 1
    user = getpass.getuser()
    got = [(r["key_name"], r["source"], r["method"], r["path"], r["action"], r["status"]) for r in rows(database_url)]
    assert got == [
        (user, "cli", "CLI", "restore", "restore a backup", 0),
        (user, "cli", "CLI", "restore", "dry-run a restore", 0),
        (user, "cli", "CLI", "prune", "prune backups", 0),
    ]
    backup_id = rows(database_url)[0]["target_id"]
    assert backup_id and backup_id in made.stdout + made.stderr
