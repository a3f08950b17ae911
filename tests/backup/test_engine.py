"""The backup engine against a real PostgreSQL: layout, exact values, determinism, snapshot, memory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from backupd import DEFAULT_TABLES
from backupd.archive import ArchiveReader, verify_archive
from backupd.backup.engine import create_backup
from backupd.backup.query import COPY_OPTIONS
from backupd.db.catalog import describe_tables
from backupd.db.connection import connect
from backupd.errors import BackupdError

APP_TABLES = set(DEFAULT_TABLES)


def fill_small_app_data(db: psycopg.Connection, events: int = 200) -> None:
    db.execute(
        "INSERT INTO cameras (id, name, folder_path, status) VALUES"
        " ('front_door', 'Front Door', '/cams/front', 'online'), ('yard', 'Yard', '/cams/yard', 'offline')"
    )
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at, ended_at, risk_score, risk_level, summary,"
        " search_vector, entities, flags)"
        " SELECT 'batch-' || g, CASE WHEN g %% 2 = 0 THEN 'front_door' ELSE 'yard' END,"
        " '2026-03-01'::timestamptz + g * interval '7 minutes', NULL, g %% 101, 'low', 'person at door ' || g,"
        " to_tsvector('english', 'person at door ' || g), jsonb_build_object('n', g), '[1, null]'"
        " FROM generate_series(1, %s) g",
        [events],
    )
    db.execute(
        "INSERT INTO alerts (id, event_id, dedup_key, channels, metadata)"
        " SELECT gen_random_uuid(), id, 'k' || id, '[\"push\"]', '{\"x\" : 1}' FROM events WHERE id % 3 = 0"
    )
    db.execute("INSERT INTO zones (id, camera_id, name, coordinates) VALUES ('z1', 'yard', 'Lawn', '[[0,0],[1,1]]')")
    db.execute("INSERT INTO prompts (model, system_prompt) VALUES ('nemotron', 'You watch cameras.')")
    db.execute("INSERT INTO baselines (camera_id, hour, day_of_week, avg_count) VALUES ('yard', 3, 1, 0.25)")
    db.execute("INSERT INTO household_members (name, role, trusted_level) VALUES ('Ana', 'resident', 'full')")
    db.execute("INSERT INTO settings (key, value) VALUES ('theme', '\"dark\"'), ('nothing', 'null')")


def test_archive_layout_manifest_and_counts(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    fill_small_app_data(db)
    result = create_backup(database_url, tmp_path / "a.zip", backup_id="0192f3a1-0000-7000-8000-000000000001")
    assert result.path == tmp_path / "a.zip" and result.size_bytes == result.path.stat().st_size
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        assert names[-1] == "manifest.json"  # written last
        assert sorted(names) == sorted([f"{t}.jsonl" for t in APP_TABLES] + ["manifest.json"])
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in zf.infolist())
        raw_manifest = json.loads(zf.read("manifest.json"))
        assert raw_manifest["version"] == "1.1"
        assert raw_manifest["backup_id"] == "0192f3a1-0000-7000-8000-000000000001"
        assert set(raw_manifest["contents"]) == APP_TABLES
        for table in APP_TABLES:
            data = zf.read(f"{table}.jsonl")
            entry = raw_manifest["contents"][table]
            expected = db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
            assert entry["count"] == expected == data.count(b"\n")
            assert entry["checksum"] == hashlib.sha256(data).hexdigest()
            assert entry["bytes"] == len(data)
            for line in data.splitlines():
                assert isinstance(json.loads(line), dict)
    assert raw_manifest["contents"]["events"]["count"] == 200
    assert raw_manifest["contents"]["alerts"]["count"] == 66
    order = raw_manifest["table_order"]
    assert order.index("cameras") < order.index("events") < order.index("alerts")
    # rows in primary-key order
    with zipfile.ZipFile(result.path) as zf:
        ids = [json.loads(line)["id"] for line in zf.read("events.jsonl").splitlines()]
    assert ids == sorted(ids) and len(ids) == 200


def test_identical_data_gives_identical_members(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    fill_small_app_data(db)
    first = create_backup(database_url, tmp_path / "1.zip")
    db.execute("VACUUM FULL events")  # a different physical order must not change the bytes
    db.execute("UPDATE events SET summary = summary WHERE id % 2 = 0")
    second = create_backup(database_url, tmp_path / "2.zip")
    with zipfile.ZipFile(first.path) as a, zipfile.ZipFile(second.path) as b:
        for table in APP_TABLES:
            assert a.read(f"{table}.jsonl") == b.read(f"{table}.jsonl"), table
    assert {k: v.checksum for k, v in first.manifest.contents.items()} == {
        k: v.checksum for k, v in second.manifest.contents.items()
    }


TYPEZOO = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'it''s "fine"');
CREATE DOMAIN jdoc AS jsonb;
CREATE TABLE typezoo (
    id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    t      text, vc varchar(20), ch char(5), i2 smallint, i8 bigint, num numeric, f4 real, f8 double precision,
    b      boolean, d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval,
    by     bytea, u uuid, j json, jb jsonb, jd jdoc, ja json[], ta text[], ia integer[], e mood, tsv tsvector,
    ip     inet, rng int4range, mon money,
    gen    text GENERATED ALWAYS AS (upper(t)) STORED
);
"""

TYPEZOO_ROWS = [
    # adversarial text and json
    {
        "t": "back\\slash \"quotes\" 'single' \n newline \t tab \r cr \x01 ctrl \\. é 日本 🎥 \\N",
        "j": '{"a" :\n 1, "a": 2,   "z": "\\u0000"}',
        "jb": '{"k": null, "nested": [1, "two", {"3": false}]}',
        "jd": '"just a string"',
        "ja": '{"{\\"x\\": 1}", NULL, "null"}',
    },
    {"t": "", "j": "null", "jb": "null", "jd": "null", "ja": "{}"},  # JSON null, not SQL NULL
    {"t": None, "j": None, "jb": None, "jd": None, "ja": None},  # SQL NULL everywhere below too
    {"f8": "NaN", "f4": "Infinity", "num": "NaN"},
    {"f8": "-Infinity", "f4": "-0"},
    {"f8": "1e-320", "f4": "3.4028235e+38", "num": "-0.000000000000000000000000000001"},
    {"f8": "0.30000000000000004", "num": "123456789012345678901234567890.123456789"},
    {"f8": "-0", "i2": "-32768", "i8": "9223372036854775807"},
    {"ts": "infinity", "tstz": "-infinity", "d": "infinity"},
    {"ts": "0001-01-01 00:00:00 BC", "tstz": "2026-03-29 01:30:00.123456+05:30", "d": "4713-01-01 BC"},
    {"tm": "24:00:00", "tmtz": "23:59:59.999999-12", "iv": "1 year 2 mons -3 days 04:05:06.789"},
    {"by": "\\x00ff5c0a22", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "e": 'it\'s "fine"'},
    {"ta": '{"a,b", NULL, "", "NULL", "\\\\"}', "ia": "{1, NULL, 3}", "tsv": "'a':1A 'fat':2B,4C 'rat':3 'don''t':5"},
    {"ip": "2001:db8::1/64", "rng": "[3,7)", "mon": "-1234.56", "vc": "x" * 20, "ch": "ab"},
    {"ta": "{}", "ia": "{}", "rng": "empty", "tsv": ""},
]


@pytest.fixture
def typezoo(db: psycopg.Connection) -> str:
    db.execute(TYPEZOO)
    for row in TYPEZOO_ROWS:
        cols = list(row)
        db.execute(
            sql.SQL("INSERT INTO typezoo ({}) VALUES ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join(sql.Placeholder() * len(cols))
            ),
            list(row.values()),
        )
    return "typezoo"


def test_every_type_survives_export_exactly(
    db: psycopg.Connection, database_url: str, tmp_path: Path, typezoo: str
) -> None:
    """Parse the archive's lines back with PostgreSQL and compare every column as PostgreSQL holds it."""
    result = create_backup(database_url, tmp_path / "zoo.zip", tables=[typezoo])
    with zipfile.ZipFile(result.path) as zf:
        member = zf.read("typezoo.jsonl")
    assert member.count(b"\n") == len(TYPEZOO_ROWS)
    table = describe_tables(db, [typezoo])[0]
    db.execute("CREATE TEMP TABLE staged (doc text)")
    with db.cursor().copy(sql.SQL("COPY staged (doc) FROM STDIN {}").format(COPY_OPTIONS)) as copy:
        copy.write(member)
    record_def = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL("text" if c.carried_as_text else c.type_sql))
        for c in table.columns
    )
    checks = []
    for c in table.columns:
        col = sql.Identifier(c.name)
        if c.carried_as_text:  # the member holds the exact text; json has no equality operator
            checks.append(sql.SQL("z.{c}::text IS NOT DISTINCT FROM r.{c}").format(c=col))
        else:
            checks.append(sql.SQL("z.{c}::text IS NOT DISTINCT FROM r.{c}::text").format(c=col))
            if c.name not in ("j", "ja"):
                checks.append(sql.SQL("z.{c} IS NOT DISTINCT FROM r.{c}").format(c=col))
    query = sql.SQL(
        "SELECT z.id, {checks} FROM typezoo z FULL JOIN (SELECT r.* FROM staged,"
        " json_to_record(staged.doc::json) AS r({defs})) r ON r.id = z.id ORDER BY z.id"
    ).format(checks=sql.SQL(", ").join(checks), defs=record_def)
    rows = db.execute(query).fetchall()
    assert len(rows) == len(TYPEZOO_ROWS)
    for row in rows:
        assert row[0] is not None and all(row[1:]), f"row {row[0]}: mismatch in {row}"
    # JSON null and SQL NULL stay distinct in the archive
    lines = [json.loads(line) for line in member.splitlines()]
    assert lines[1]["j"] == "null" and lines[2]["j"] is None
    assert lines[1]["jb"] == "null" and lines[2]["jb"] is None
    assert lines[0]["j"] == '{"a" :\n 1, "a": 2,   "z": "\\u0000"}'  # json text kept byte for byte
    assert lines[0]["gen"] == lines[0]["t"].upper()


def test_backup_is_one_consistent_snapshot_under_concurrent_writes(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    """A writer keeps adding (event, alert, counter) in single transactions while the backup runs."""
    fill_small_app_data(db, events=20000)
    db.execute("INSERT INTO settings (key, value) VALUES ('written', '0')")
    stop = threading.Event()
    commits = [0]

    def writer() -> None:
        with connect(database_url) as conn:
            while not stop.is_set():
                with conn.transaction():
                    event_id = conn.execute(
                        "INSERT INTO events (batch_id, camera_id, started_at) VALUES ('w', 'yard', now()) RETURNING id"
                    ).fetchone()[0]
                    conn.execute(
                        "INSERT INTO alerts (id, event_id, dedup_key) VALUES (gen_random_uuid(), %s, 'w')", [event_id]
                    )
                    conn.execute("UPDATE settings SET value = to_jsonb((value::text)::int + 1) WHERE key = 'written'")
                commits[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while commits[0] < 20:
            time.sleep(0.01)
        before = commits[0]
        result = create_backup(database_url, tmp_path / "snap.zip")
        during = commits[0] - before
    finally:
        stop.set()
        thread.join()
    assert during > 0, "the writer made no progress while the backup ran"
    with zipfile.ZipFile(result.path) as zf:
        events = [json.loads(line) for line in zf.read("events.jsonl").splitlines()]
        alerts = [json.loads(line) for line in zf.read("alerts.jsonl").splitlines()]
        settings = {row["key"]: row["value"] for row in map(json.loads, zf.read("settings.jsonl").splitlines())}
    written = int(settings["written"])
    assert sum(1 for e in events if e["batch_id"] == "w") == written
    assert sum(1 for a in alerts if a["dedup_key"] == "w") == written
    event_ids = {e["id"] for e in events}
    assert all(a["event_id"] in event_ids for a in alerts)


def test_failure_midway_leaves_no_file(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    fill_small_app_data(db)

    def explode(progress) -> None:
        if progress.step == "Exporting events":
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        create_backup(database_url, tmp_path / "never.zip", progress=explode)
    assert list(tmp_path.iterdir()) == []
    # the snapshot transaction was ended: the tables are not left locked
    with connect(database_url) as conn, conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '2s'")
        conn.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")


def test_unknown_table_is_a_clear_error(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(BackupdError, match="table not found: nonexistent"):
        create_backup(database_url, tmp_path / "x.zip", tables=["events", "nonexistent"])
    assert list(tmp_path.iterdir()) == []


def test_second_table_set_in_another_schema(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    db.execute("CREATE SCHEMA app")
    db.execute("CREATE TABLE app.camera_zones (id serial PRIMARY KEY, label text)")
    db.execute(
        "CREATE TABLE app.class_baselines (zone_id int REFERENCES app.camera_zones, k text, v float8,"
        " PRIMARY KEY (zone_id, k))"
    )
    db.execute("INSERT INTO app.camera_zones (label) VALUES ('a'), ('b')")
    db.execute("INSERT INTO app.class_baselines VALUES (2, 'person', 1.5), (1, 'car', 0.1), (1, 'cat', 2)")
    result = create_backup(database_url, tmp_path / "app.zip", tables=["app.class_baselines", "app.camera_zones"])
    assert result.manifest.table_order == ["app.camera_zones", "app.class_baselines"]
    with zipfile.ZipFile(result.path) as zf:
        assert sorted(zf.namelist()) == ["app.camera_zones.jsonl", "app.class_baselines.jsonl", "manifest.json"]
        rows = [json.loads(x) for x in zf.read("app.class_baselines.jsonl").splitlines()]
    assert [(r["zone_id"], r["k"]) for r in rows] == [(1, "car"), (1, "cat"), (2, "person")]
    verify_archive(result.path)


def _run_cli(args: list[str], url: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "BACKUPD_DATABASE_URL": url, **env}
    return subprocess.run(
        [sys.executable, "-m", "backupd", *args], capture_output=True, text=True, env=full_env, timeout=300
    )


def test_cli_backup_and_verify(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    fill_small_app_data(db)
    out = tmp_path / "cli.zip"
    proc = _run_cli(["backup", "-o", str(out)], database_url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{out}  ")
    assert "events" in proc.stdout and "200 rows" in proc.stdout
    assert _run_cli(["verify", str(out)], database_url).returncode == 0
    with ArchiveReader(out) as reader:
        assert reader.manifest.contents["events"].count == 200


def test_cli_errors_are_one_line_and_leave_nothing(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "bad.zip"
    proc = _run_cli(["backup", "-o", str(out)], database_url, BACKUPD_TABLES="events,ghosts")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "backupd: error: table not found: ghosts"
    proc = _run_cli(["backup", "-o", str(out)], "postgresql://nobody@127.0.0.1:1/none")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("backupd: error: cannot connect to the database:")
    assert list(tmp_path.iterdir()) == []


def test_backup_refused_while_another_operation_holds_the_lock(database_url: str, tmp_path: Path) -> None:
    from backupd.db.locks import operation_lock

    with operation_lock(database_url):
        proc = _run_cli(["backup", "-o", str(tmp_path / "busy.zip")], database_url)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "backupd: error: another backup or restore is running"


# VmHWM is this process's own peak; ru_maxrss would include the parent's size at fork (Linux keeps
# it across exec), which in a long pytest run says more about pytest than about backupd.
MEASURE_RSS = """
import re, sys
from backupd.backup.engine import create_backup
create_backup(sys.argv[1], __import__('pathlib').Path(sys.argv[2]), tables=['bulk'])
print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
"""


def test_memory_stays_flat_as_the_table_grows(db: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    db.execute("CREATE TABLE bulk (id bigint PRIMARY KEY, payload text, doc jsonb)")

    def peak_kib(rows: int) -> int:
        db.execute("TRUNCATE bulk")
        db.execute(
            "INSERT INTO bulk SELECT g, repeat(md5(g::text), 30), jsonb_build_object('g', g, 'h', md5(g::text))"
            " FROM generate_series(1, %s) g",
            [rows],
        )
        out = tmp_path / f"bulk{rows}.zip"
        proc = subprocess.run(
            [sys.executable, "-c", MEASURE_RSS, database_url, str(out)], capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr
        return int(proc.stdout.strip())

    small = peak_kib(15_000)  # ~15 MB of JSON
    large = peak_kib(150_000)  # ~150 MB of JSON
    assert large < 150 * 1024, f"peak RSS {large} KiB"
    assert large < small * 1.3, f"peak RSS grew from {small} KiB to {large} KiB"


def test_parallel_parts_give_the_same_bytes_as_one_stream(
    db: psycopg.Connection, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Splitting a table into key ranges read by several connections must not change a byte."""
    import backupd.backup.parts as backup_module

    fill_small_app_data(db, events=3000)
    db.execute("DELETE FROM events WHERE id BETWEEN 1000 AND 1800")  # a gap: some ranges are empty
    db.execute("ANALYZE")
    single = create_backup(database_url, tmp_path / "one.zip", workers=1)
    monkeypatch.setattr(backup_module, "PART_BYTES", 64 * 1024)
    parts = backup_module.split_into_parts(db, describe_tables(db, ["events"])[0], 10 * 1024 * 1024)
    assert len(parts) > 5 and parts[0].lower is None and parts[-1].upper is None
    split = create_backup(database_url, tmp_path / "split.zip", workers=3)
    assert {k: (v.count, v.checksum) for k, v in single.manifest.contents.items()} == {
        k: (v.count, v.checksum) for k, v in split.manifest.contents.items()
    }
    assert split.manifest.contents["events"].count == 2199
    verify_archive(split.path)


def test_partitioned_table_is_exported_through_its_partitions(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE readings (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)")
    db.execute("CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')")
    db.execute("CREATE TABLE readings_2026 PARTITION OF readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    db.execute("INSERT INTO readings VALUES (2, '2026-05-01', 'b'), (1, '2025-05-01', 'a'), (3, '2026-06-01', 'c')")
    result = create_backup(database_url, tmp_path / "p.zip", tables=["readings"])
    with zipfile.ZipFile(result.path) as zf:
        rows = [json.loads(x) for x in zf.read("readings.jsonl").splitlines()]
    assert [(r["id"], r["v"]) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]


def test_spool_failure_is_raised_not_hung(
    db: psycopg.Connection, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backupd.backup.pipeline as pipeline

    fill_small_app_data(db)

    def no_space(directory: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "_anonymous_file", no_space)
    with pytest.raises(OSError, match="No space left on device"):
        create_backup(database_url, tmp_path / "nested" / "x.zip")
    assert list((tmp_path / "nested").iterdir()) == []
