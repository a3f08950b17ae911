"""Change-proportional backups against a real PostgreSQL: the adversarial change corpus.

Each case changes the data after a first backup in a way that defeats a naive reuse rule (same row
count, same key range), takes a second backup that may reuse the first's parts, restores it into a
fresh database and compares every row with the data at the second backup's snapshot. A backup that
reused a part it should have read would restore the old rows and fail the comparison; each case
also checks which parts were read. docs/change-proportional-backups.md is the proof.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import backupd.backup.parts as parts_module
import backupd.backup.reuse as reuse_module
from backupd.archive import ArchiveReader, verify_archive
from backupd.backup.engine import BackupResult, create_backup
from backupd.backup.reuse import XID_SPACE, Horizon, horizon_for
from backupd.db.catalog import describe_tables
from backupd.db.connection import connect
from backupd.drill.run import run_drill
from backupd.restore.engine import restore_from_backup

ROWS = 2000
TABLES = ["items", "labels"]


@pytest.fixture
def source(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> psycopg.Connection:
    """`items` (2000 rows, about 14 parts of 8 KiB) and a small `labels` (one part, text key)."""
    monkeypatch.setattr(parts_module, "PART_BYTES", 8 * 1024)
    db.execute("CREATE TYPE mood AS ENUM ('calm', 'busy')")
    db.execute("CREATE TABLE items (id bigint PRIMARY KEY, v text NOT NULL, n int, m mood)")
    db.execute("CREATE TABLE labels (code text PRIMARY KEY, title text)")
    db.execute(
        "INSERT INTO items SELECT g, md5(g::text), g %% 7, CASE WHEN g %% 2 = 0 THEN 'calm' ELSE 'busy' END::mood"
        " FROM generate_series(1, %s) g",
        [ROWS],
    )
    db.execute("INSERT INTO labels VALUES ('a', 'Alpha'), ('b', 'Beta')")
    db.execute("ANALYZE items")
    return db


def backup(url: str, path: Path, previous: Path | None = None, *, full: bool = False) -> BackupResult:
    return create_backup(url, path, tables=TABLES, previous=previous, full=full, workers=2)


def settled_backup(url: str, path: Path) -> BackupResult:
    """A first backup whose snapshot's xmin is past every row's creator. Rows committed while any
    older transaction of the cluster was still running (an autovacuum's ANALYZE, another test's
    database) are, rightly, not proved old by that snapshot: the next backup would read them again,
    and the cases below would not show what they are meant to."""
    with connect(url) as conn:
        for _ in range(50):
            result = backup(url, path)
            assert result.manifest.origin is not None
            horizon = result.manifest.origin.snapshot_xmin % XID_SPACE
            newer = conn.execute("SELECT count(*) FROM items WHERE xmin::text::bigint >= %s", [horizon]).fetchone()
            if newer is not None and newer[0] == 0:
                return result
            time.sleep(0.1)
    raise AssertionError("the cluster kept an older transaction open")


def rows(conn: psycopg.Connection, table: str) -> list[tuple[object, ...]]:
    order = "id" if table == "items" else "code"
    query = sql.SQL("SELECT row_to_json(t)::text FROM {} t ORDER BY {}").format(
        sql.Identifier(table), sql.Identifier(order)
    )
    return conn.execute(query).fetchall()


def assert_restores_exactly(archive: Path, source: psycopg.Connection, target_url: str) -> None:
    """Restore into a database with no tables (created from the archive) and compare every row."""
    verify_archive(archive)
    restore_from_backup(target_url, archive, tables=TABLES)
    with connect(target_url) as target:
        for table in TABLES:
            assert rows(target, table) == rows(source, table), table


def assert_same_bytes_as_a_full_read(result: BackupResult, database_url: str, tmp_path: Path) -> None:
    """Every table's rows, parts reused or not, are byte for byte what a full read gives now."""
    full = backup(database_url, tmp_path / "full.zip", full=True)
    assert full.manifest.reuse is not None and full.manifest.reuse.parts_reused == 0
    with ArchiveReader(result.path) as reader:
        for table in TABLES:
            assert reader.rows_checksum(table) == full.manifest.contents[table].checksum, table


def reused(result: BackupResult, table: str = "items") -> list[bool]:
    parts = result.manifest.contents[table].parts
    assert parts is not None
    return [p.reused for p in parts]


def read_index(result: BackupResult, key: int) -> int:
    """The index of the part of `items` whose range holds `key`."""
    entry = result.manifest.contents["items"]
    bounds = entry.part_bounds or []
    return sum(1 for b in bounds if b <= key)


@pytest.fixture(params=["whole heap", "heap in slices"])
def first(
    request: pytest.FixtureRequest,
    source: psycopg.Connection,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> BackupResult:
    """The first backup; every test using it runs twice: with the proof scanning each table whole,
    and with `items` proved in three slices of its heap on three connections at once (as a table of
    more than 2 x MIN_SLICE_BLOCKS is), whose figures must add up to the same proof."""
    if request.param == "heap in slices":
        blocks = reuse_module.table_blocks(source, [describe_tables(source, ["items"])[0]])
        assert min(blocks.values()) >= 3, blocks  # three slices, none of them empty of blocks
        monkeypatch.setattr(reuse_module, "MIN_SLICE_BLOCKS", 1)
    result = settled_backup(database_url, tmp_path / "first.zip")
    assert len(result.manifest.contents["items"].parts or []) > 5
    return result


def second(database_url: str, tmp_path: Path, first: BackupResult) -> BackupResult:
    assert isinstance(first.path, Path)
    return backup(database_url, tmp_path / "second.zip", previous=first.path)


# -- the baseline: nothing changed, everything is reused, and the bytes are a full read's ---------------


def test_unchanged_database_reuses_every_part(
    source: psycopg.Connection, first: BackupResult, database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    result = second(database_url, tmp_path, first)
    assert all(reused(result)) and all(reused(result, "labels"))
    reuse = result.manifest.reuse
    assert reuse is not None and (reuse.parts_read, reuse.rows_read, reuse.rows_reused) == (0, 0, ROWS + 2)
    assert result.manifest.reused_from == first.manifest.backup_id
    assert result.manifest.contents["items"].checksum_of == "parts"
    with zipfile.ZipFile(first.path) as a, zipfile.ZipFile(result.path) as b:
        for part in result.manifest.contents["items"].parts or []:
            assert a.read(part.name) == b.read(part.name)
    assert_same_bytes_as_a_full_read(result, database_url, tmp_path)
    assert_restores_exactly(result.path, source, empty_database_url)  # type: ignore[arg-type]


def test_full_reads_everything(first: BackupResult, database_url: str, tmp_path: Path) -> None:
    assert isinstance(first.path, Path)
    result = backup(database_url, tmp_path / "full.zip", previous=first.path, full=True)
    assert not any(reused(result))
    assert result.manifest.reuse is not None and result.manifest.reuse.rows_read == ROWS + 2
    assert result.manifest.contents["items"].checksum == first.manifest.contents["items"].checksum


# -- the corpus: each change keeps the count of its range, so count-only reuse would restore old rows ----


def update_keeping_count(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE items SET v = 'changed' WHERE id = 1000")


def delete_and_insert_same_key(conn: psycopg.Connection) -> None:
    conn.execute("DELETE FROM items WHERE id = 1000")
    conn.execute("INSERT INTO items VALUES (1000, 'reborn', 0, 'calm')")


def delete_one_insert_another(conn: psycopg.Connection) -> None:
    conn.execute("DELETE FROM items WHERE id = 1000")
    conn.execute("INSERT INTO items VALUES (1001000, 'moved', 0, 'calm')")  # past the end: another range
    conn.execute("INSERT INTO items VALUES (-1, 'before', 0, 'calm')")  # before the start: the first range
    conn.execute("DELETE FROM items WHERE id = 1")


def vacuum_freeze_after_update(conn: psycopg.Connection) -> None:
    """The new row version is frozen at once: its raw xmin still shows when it was created."""
    conn.execute("UPDATE items SET v = 'frozen' WHERE id = 1000")
    conn.execute("VACUUM (FREEZE) items")


def vacuum_full_after_update(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE items SET v = 'rewritten' WHERE id = 1000")
    conn.execute("VACUUM (FULL, FREEZE) items")


def cluster_after_update(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE items SET v = 'clustered' WHERE id = 1000")
    conn.execute("CLUSTER items USING items_pkey")


def truncate_and_reinsert(conn: psycopg.Connection) -> None:
    """The same rows again, one of them changed: every count stays the same."""
    conn.execute("CREATE TEMP TABLE keep AS SELECT * FROM items")
    conn.execute("TRUNCATE items")
    conn.execute("INSERT INTO items SELECT * FROM keep")
    conn.execute("UPDATE items SET v = 'truncated' WHERE id = 1000")


def add_column_with_default(conn: psycopg.Connection) -> None:
    """No row is rewritten (a fast default), yet every row's JSON gains a key."""
    conn.execute("ALTER TABLE items ADD COLUMN extra int DEFAULT 7")


def rename_enum_label(conn: psycopg.Connection) -> None:
    """No row changes at all, yet every row's JSON does."""
    conn.execute("ALTER TYPE mood RENAME VALUE 'calm' TO 'quiet'")


CORPUS: dict[str, tuple[Callable[[psycopg.Connection], None], str]] = {
    # name: (change, which parts must be read: "one" = only the part of id 1000, "all")
    "update keeping the count": (update_keeping_count, "one"),
    "delete and insert of the same key": (delete_and_insert_same_key, "one"),
    "VACUUM FREEZE after an update": (vacuum_freeze_after_update, "one"),
    "VACUUM FULL after an update": (vacuum_full_after_update, "all"),
    "CLUSTER after an update": (cluster_after_update, "all"),
    "TRUNCATE and re-insert": (truncate_and_reinsert, "all"),
    "a column added with a default": (add_column_with_default, "all"),
    "an enum label renamed": (rename_enum_label, "all"),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_corpus_case_restores_the_data_at_the_snapshot(
    case: str,
    source: psycopg.Connection,
    first: BackupResult,
    database_url: str,
    empty_database_url: str,
    tmp_path: Path,
) -> None:
    change, expected = CORPUS[case]
    change(source)
    result = second(database_url, tmp_path, first)
    flags = reused(result)
    if expected == "all":
        assert not any(flags), flags
    else:
        changed = read_index(result, 1000)
        assert not flags[changed] and sum(flags) == len(flags) - 1, flags
    assert_same_bytes_as_a_full_read(result, database_url, tmp_path)
    assert_restores_exactly(result.path, source, empty_database_url)  # type: ignore[arg-type]


def test_moved_rows_are_read_in_both_ranges(
    source: psycopg.Connection, first: BackupResult, database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    delete_one_insert_another(source)
    result = second(database_url, tmp_path, first)
    flags = reused(result)
    assert not flags[0] and not flags[read_index(result, 1000)] and not flags[-1]
    assert_restores_exactly(result.path, source, empty_database_url)  # type: ignore[arg-type]


@pytest.fixture
def other(database_url: str) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(database_url)
    yield conn
    conn.close()


@pytest.mark.parametrize("savepoint", [False, True], ids=["top-level", "subtransaction"])
def test_transaction_open_across_the_previous_snapshot(
    savepoint: bool,
    source: psycopg.Connection,
    other: psycopg.Connection,
    database_url: str,
    empty_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transaction that changed a row before the first backup's snapshot and commits after it: the
    first backup saw the old row, the second sees the new one with the same count. With a
    savepoint the row's xmin is a subtransaction's xid, which pg_current_snapshot() does not list."""
    other.execute("SELECT 1")  # BEGIN
    if savepoint:
        other.execute("SAVEPOINT s")
    other.execute("UPDATE items SET v = 'late' WHERE id = 1000")
    if savepoint:
        other.execute("RELEASE SAVEPOINT s")
    first = settled_backup(database_url, tmp_path / "first.zip")
    other.commit()
    result = second(database_url, tmp_path, first)
    assert not reused(result)[read_index(result, 1000)]
    assert_restores_exactly(result.path, source, empty_database_url)  # type: ignore[arg-type]


def test_each_backup_stands_alone(
    source: psycopg.Connection, first: BackupResult, database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    """Deleting every earlier backup leaves the latest restorable, verifiable and drillable."""
    update_keeping_count(source)
    result = second(database_url, tmp_path, first)
    assert any(reused(result))
    assert isinstance(first.path, Path)
    first.path.unlink()
    verify_archive(result.path)
    report = run_drill(empty_database_url, result.path)  # type: ignore[arg-type]
    assert report.ok, report.error or [t for t in report.tables if not t.ok]


def test_a_previous_backup_that_cannot_be_read_means_reading_everything(
    first: BackupResult, database_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    result = backup(database_url, tmp_path / "second.zip", previous=broken)
    assert not any(reused(result))
    assert result.manifest.reuse_note is not None and "could not be read" in result.manifest.reuse_note


def test_another_database_is_not_reused(
    source: psycopg.Connection, first: BackupResult, database_url: str, tmp_path: Path
) -> None:
    assert isinstance(first.path, Path)
    doctored = first.manifest.model_copy(deep=True)
    assert doctored.origin is not None
    doctored.origin.database_oid += 1
    horizon, note = horizon_for(
        doctored,
        first.manifest.origin,  # type: ignore[arg-type]
        first.manifest.origin.snapshot_xmin,  # type: ignore[union-attr]
        server_version=first.manifest.server_version or "",
        settings=first.manifest.settings or {},
        types=first.manifest.types or [],
    )
    assert horizon is None and note is not None and "another cluster" in note


# -- xid wraparound: the 32-bit xmin of a tuple placed with the epoch -------------------------------------


def created_since(conn: psycopg.Connection, horizon: Horizon, xid: int) -> bool:
    query = sql.SQL("SELECT {} FROM (SELECT {}::text::xid AS xmin) AS t").format(
        horizon.created_since(), sql.Literal(str(xid))
    )
    row = conn.execute(query).fetchone()
    assert row is not None
    return bool(row[0])


def test_xmin_is_placed_across_an_epoch_boundary(db: psycopg.Connection) -> None:
    """Previous xmin just before the 32-bit wrap, this snapshot just after it: a plain 32-bit
    comparison would call the new xid 20 old (20 < 4294967196)."""
    previous_xmin = XID_SPACE - 100  # epoch 0
    xmax = XID_SPACE + 50  # epoch 1
    horizon = Horizon(distance=xmax - previous_xmin, xmax32=xmax % XID_SPACE)
    assert created_since(db, horizon, 20)  # epoch 1, after the wrap
    assert created_since(db, horizon, XID_SPACE - 50)  # epoch 0, after the previous xmin
    assert not created_since(db, horizon, XID_SPACE - 200)  # before the previous xmin
    assert not created_since(db, horizon, 1000)  # a frozen tuple's raw xmin from long ago: old either way
    assert created_since(db, horizon, 2) == (48 <= 150)  # FrozenTransactionId lands on the safe side here


def test_a_previous_snapshot_too_old_to_place_xids_proves_nothing(first: BackupResult) -> None:
    origin = first.manifest.origin
    assert origin is not None
    horizon, note = horizon_for(
        first.manifest,
        origin,
        origin.snapshot_xmin + (1 << 31),
        server_version=first.manifest.server_version or "",
        settings=first.manifest.settings or {},
        types=first.manifest.types or [],
    )
    assert horizon is None and note is not None and "too many transactions" in note


# -- the CLI: backups into the store reuse the previous one; --full does not --------------------------------


def test_cli_backup_into_the_store_reuses_and_full_reads(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    from tests.support.api import fill_app_data

    fill_app_data(db, events=300)
    env = {
        **os.environ,
        "BACKUPD_DATABASE_URL": database_url,
        "BACKUPD_STORE": str(tmp_path / "store"),
        "BACKUPD_DATA_DIR": str(tmp_path / "data"),
    }

    def cli(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "backupd", "backup", *args], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    outputs = [cli()]
    assert "reused 0 parts (0 rows), read " in outputs[0]
    for _ in range(3):  # the first backup's snapshot may still see an older transaction of the cluster
        outputs.append(cli())
        if "reused 0 parts" not in outputs[-1]:
            break
    assert "reused 0 parts" not in outputs[-1] and "read 0 parts (0 rows) of backup " in outputs[-1], outputs
    assert "reused 0 parts (0 rows), read " in cli("--full")
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT manifest_json->'reuse' FROM backupd.backup_jobs WHERE status = 'completed'"
            " ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    assert row is not None and row[0]["parts_reused"] == 0 and row[0]["rows_read"] > 300


def test_api_backups_say_what_they_reused_and_full_reads_everything(make_server, db: psycopg.Connection) -> None:
    """Through the API: the job and the list say how many parts and rows were reused and read;
    `{"full": true}` reads every row whatever the previous backup holds."""
    from tests.support.api import fill_app_data, finished, poll

    fill_app_data(db, events=300)
    with make_server().client() as c:

        def backup(body: dict[str, object] | None = None) -> dict[str, object]:
            response = c.post("/api/backup", json=body) if body is not None else c.post("/api/backup")
            assert response.status_code == 202, response.text
            job = poll(c, f"/api/backup/{response.json()['job_id']}", until=finished)[-1]
            assert job["status"] == "completed", job
            return job

        first = backup()
        total = sum(t["count"] for t in first["manifest"]["contents"].values())
        assert first["reuse"] == {"parts_reused": 0, "rows_reused": 0, "parts_read": 8, "rows_read": total}
        for _ in range(3):  # the first snapshot may still have seen an older transaction of the cluster
            again = backup()
            if again["reuse"]["parts_read"] == 0:
                break
        assert again["reuse"] == {"parts_reused": 8, "rows_reused": total, "parts_read": 0, "rows_read": 0}
        listed = {b["id"]: b for b in c.get("/api/backup").json()["backups"]}
        assert listed[again["id"]]["reuse"] == again["reuse"]
        for wrong in (0, "yes", None):  # only a JSON boolean chooses a full backup
            assert c.post("/api/backup", json={"full": wrong}).status_code == 422
        full = backup({"full": True})
        assert full["reuse"] == {"parts_reused": 0, "rows_reused": 0, "parts_read": 8, "rows_read": total}


# -- uuid keys: cut into ranges of the 128-bit number, bounds in the manifest as text -------------------


def test_a_uuid_keyed_table_is_read_in_parts_and_its_unchanged_ranges_reused(
    db: psycopg.Connection,
    database_url: str,
    empty_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parts_module, "PART_BYTES", 8 * 1024)
    db.execute("CREATE TABLE tokens (id uuid PRIMARY KEY, v text NOT NULL)")
    db.execute("INSERT INTO tokens SELECT gen_random_uuid(), md5(g::text) FROM generate_series(1, %s) g", [ROWS])
    db.execute("ANALYZE tokens")

    def take(name: str, previous: Path | None = None) -> BackupResult:
        return create_backup(database_url, tmp_path / name, tables=["tokens"], previous=previous, workers=2)

    first = take("first.zip")
    for _ in range(50):  # settled, as settled_backup: no row newer than the snapshot's xmin
        assert first.manifest.origin is not None
        horizon = first.manifest.origin.snapshot_xmin % XID_SPACE
        newer = db.execute("SELECT count(*) FROM tokens WHERE xmin::text::bigint >= %s", [horizon]).fetchone()
        if newer is not None and newer[0] == 0:
            break
        time.sleep(0.1)
        first = take("first.zip")
    entry = first.manifest.contents["tokens"]
    parts, bounds = entry.parts or [], entry.part_bounds or []
    assert len(parts) > 5 and len(bounds) == len(parts) - 1
    assert all(isinstance(b, str) for b in bounds) and bounds == sorted(bounds, key=lambda b: uuid.UUID(str(b)))
    with zipfile.ZipFile(first.path) as archive:  # each part holds exactly its range, in key order
        for index, part in enumerate(parts):
            keys = [uuid.UUID(json.loads(line)["id"]) for line in archive.read(part.name).splitlines()]
            assert keys == sorted(keys) and len(keys) == part.count
            if index > 0:
                assert keys[0] >= uuid.UUID(str(bounds[index - 1]))
            if index < len(bounds):
                assert keys[-1] < uuid.UUID(str(bounds[index]))
    assert sum(p.count for p in parts) == ROWS

    changed = db.execute("SELECT id FROM tokens ORDER BY id OFFSET %s LIMIT 1", [ROWS // 2]).fetchone()
    assert changed is not None
    db.execute("UPDATE tokens SET v = 'changed' WHERE id = %s", [changed[0]])
    assert isinstance(first.path, Path)
    result = take("second.zip", previous=first.path)
    flags = [p.reused for p in result.manifest.contents["tokens"].parts or []]
    position = sum(1 for b in bounds if uuid.UUID(str(b)) <= changed[0])
    assert not flags[position] and sum(flags) == len(flags) - 1, flags

    full = take("full.zip")
    with ArchiveReader(result.path) as reader:
        assert reader.rows_checksum("tokens") == full.manifest.contents["tokens"].checksum
    verify_archive(result.path)
    restore_from_backup(empty_database_url, result.path, tables=["tokens"])
    with connect(empty_database_url) as target:
        query = "SELECT id, v FROM tokens ORDER BY id"
        assert target.execute(query).fetchall() == db.execute(query).fetchall()
