"""Event export (API and CLI): range, order, encoding, streaming, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from backupd.backup.engine import create_backup
from backupd.export import iter_events, parse_timestamp
from tests.support.api import fill_app_data

BASE = datetime(2026, 3, 1, tzinfo=UTC)


def _fill(db: psycopg.Connection) -> None:
    """Events with shared started_at values and ids that do not follow time order."""
    db.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('c', 'C', '/c')")
    db.execute(
        "INSERT INTO events (id, batch_id, camera_id, started_at, summary, entities)"
        " SELECT g, 'b', 'c', %s::timestamptz + ((g * 7919) %% 40) * interval '1 hour',"
        " E'line\\nbreak \"' || g || E'\" \\\\', CASE WHEN g %% 4 = 0 THEN 'null'::jsonb ELSE '{\"k\": [1]}' END"
        " FROM generate_series(1, 120) g",
        [BASE],
    )


def _lines(body: bytes) -> list[dict]:
    assert body == b"" or body.endswith(b"\n")
    return [json.loads(line) for line in body.splitlines()]


def _key(row: dict) -> tuple[datetime, int]:
    return datetime.fromisoformat(row["started_at"]), row["id"]


def test_export_range_order_and_content_type(client: httpx.Client, db: psycopg.Connection) -> None:
    _fill(db)
    since, until = BASE + timedelta(hours=5), BASE + timedelta(hours=20)
    response = client.get("/api/export/events", params={"since": since.isoformat(), "until": until.isoformat()})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    rows = _lines(response.content)
    expected = db.execute(
        "SELECT id FROM events WHERE started_at >= %s AND started_at < %s ORDER BY started_at, id", [since, until]
    ).fetchall()
    assert [r["id"] for r in rows] == [e[0] for e in expected]
    assert [_key(r) for r in rows] == sorted(_key(r) for r in rows)
    assert min(_key(r)[0] for r in rows) == since  # since is inclusive
    assert all(_key(r)[0] < until for r in rows)  # until is exclusive
    assert len({_key(r)[0] for r in rows}) < len(rows)  # ties on started_at were ordered by id
    # the whole table without bounds
    everything = _lines(client.get("/api/export/events").content)
    assert len(everything) == 120 and [_key(r) for r in everything] == sorted(_key(r) for r in everything)
    only_since = _lines(client.get("/api/export/events", params={"since": since.isoformat()}).content)
    assert all(_key(r)[0] >= since for r in only_since) and len(only_since) == sum(
        1 for r in everything if _key(r)[0] >= since
    )


def test_export_uses_the_archive_encoding(
    client: httpx.Client, db: psycopg.Connection, tmp_path: Path, database_url: str
) -> None:
    fill_app_data(db, events=200)
    archive = create_backup(database_url, tmp_path / "a.zip", tables=("events", "cameras"))
    with zipfile.ZipFile(archive.path) as zf:
        member_lines = set(zf.read("events.jsonl").splitlines())
    exported = client.get("/api/export/events").content.splitlines()
    assert len(exported) == 200 and set(exported) == member_lines
    row = json.loads(exported[4])  # id 5: flags is JSON null carried as text, like the archive
    assert row["flags"] == "null" and isinstance(row["entities"], str)


def test_export_timestamps(client: httpx.Client, db: psycopg.Connection) -> None:
    _fill(db)
    # a raw '+' in the query string decodes to a space; the offset is still understood
    raw = client.get("/api/export/events?since=2026-03-01T05:00:00+00:00&until=2026-03-01T07:00:00+00:00")
    encoded = client.get("/api/export/events", params={"since": "2026-03-01T05:00:00Z", "until": "2026-03-01T07:00"})
    assert raw.status_code == encoded.status_code == 200 and raw.content == encoded.content and raw.content
    shifted = client.get(
        "/api/export/events", params={"since": "2026-03-01T07:00:00+02:00", "until": "2026-03-01T09:00:00+02:00"}
    )
    assert shifted.content == raw.content
    empty = client.get("/api/export/events", params={"since": "2030-01-01"})
    assert empty.status_code == 200 and empty.content == b""


@pytest.mark.parametrize("param", ["since", "until"])
@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-03-01T25:00", "1700000000"])
def test_export_malformed_timestamp_is_400(client: httpx.Client, param: str, value: str) -> None:
    response = client.get("/api/export/events", params={param: value})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"Invalid timestamp for '{param}': {value!r} (expected ISO 8601, e.g. 2026-01-31T00:00:00Z)"
    )


def test_export_without_an_events_table_is_404(make_server, empty_database_url: str) -> None:
    """A database that is not the application's (no events table): a documented 404, not a 500."""
    with make_server(database_url=empty_database_url).client() as c:
        r = c.get("/api/export/events")
    assert r.status_code == 404
    assert r.json() == {"detail": "table not found: events"}


def test_parse_timestamp() -> None:
    assert parse_timestamp("2026-03-01") == BASE
    assert parse_timestamp("2026-03-01T00:00:00Z") == BASE
    assert parse_timestamp("2026-03-01T02:00:00+02:00") == BASE
    assert parse_timestamp("2026-03-01T02:00:00 02:00") == BASE
    assert parse_timestamp("2026-03-01T00:00:00 0000") == BASE
    assert parse_timestamp("2026-02-28T19:00:00-05:00") == BASE
    assert parse_timestamp("2026-03-01T05:30").tzinfo == UTC
    assert parse_timestamp("2026-03-01T05:30:00+05:30").utcoffset() == timedelta(hours=5, minutes=30)
    assert parse_timestamp("2026-03-01 02:00") == BASE + timedelta(hours=2)  # space separator, not an offset
    with pytest.raises(ValueError):
        parse_timestamp("2026-03-01T02:00 bogus")


def test_export_streams_in_chunks_and_stops_cleanly(db: psycopg.Connection, database_url: str) -> None:
    db.execute("INSERT INTO cameras (id, name, folder_path) VALUES ('c', 'C', '/c')")
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at, summary) SELECT 'b', 'c', now(), repeat('x', 500)"
        " FROM generate_series(1, 5000)"
    )
    chunks = list(iter_events(database_url, chunk_bytes=64 * 1024))
    assert len(chunks) > 10 and all(c.endswith(b"\n") for c in chunks)
    assert sum(c.count(b"\n") for c in chunks) == 5000
    # abandoning the generator early cancels the COPY and closes its connection
    gen = iter_events(database_url, chunk_bytes=64 * 1024)
    next(gen)
    gen.close()
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = 'backupd-export' AND datname = current_database()"
    )
    deadline = time.monotonic() + 5
    while db.execute(query).fetchone()[0] and time.monotonic() < deadline:
        time.sleep(0.05)  # a backend exits just after its client closes
    assert db.execute(query).fetchone()[0] == 0


def test_cli_export(db: psycopg.Connection, database_url: str, tmp_path: Path, client: httpx.Client) -> None:
    _fill(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUPD_")}
    args = [
        sys.executable,
        "-m",
        "backupd",
        "--database-url",
        database_url,
        "export",
        "events",
        "--since",
        "2026-03-01T05:00:00Z",
        "--until",
        "2026-03-01T20:00:00+00:00",
    ]
    to_stdout = subprocess.run(args, capture_output=True, env=env, timeout=60)
    assert to_stdout.returncode == 0, to_stdout.stderr
    api = client.get("/api/export/events", params={"since": "2026-03-01T05:00:00Z", "until": "2026-03-01T20:00:00Z"})
    assert to_stdout.stdout == api.content and api.content
    out = tmp_path / "out" / "events.jsonl"
    out.parent.mkdir()
    to_file = subprocess.run([*args, "-o", str(out)], capture_output=True, env=env, timeout=60, text=True)
    assert to_file.returncode == 0, to_file.stderr
    assert out.read_bytes() == api.content
    assert str(out) in to_file.stderr and "events" in to_file.stderr
    assert [p.name for p in out.parent.iterdir()] == ["events.jsonl"]  # no temporary file left
    bad = subprocess.run([*args[:-4], "--since", "soon"], capture_output=True, env=env, timeout=60, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("backupd: error: --since: Invalid timestamp")
