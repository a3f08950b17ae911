"""Shared helpers for the API tests: a real uvicorn server on a free port, small app data, polling.

The fixtures (make_server, server, client) are registered by tests/conftest.py, so tests take them by name.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from psycopg import sql

from backupd import DEFAULT_TABLES
from backupd.api import create_app
from backupd.config import Settings


class ApiServer:
    """uvicorn serving create_app(settings) in a thread, on an ephemeral port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn stopped during start-up (see the log above)")
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    @property
    def services(self) -> Any:
        return self.app.state.services

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60, **kwargs)

    def stop(self) -> None:
        services = getattr(self.app.state, "services", None)
        if services is not None:
            services.runner.wait(60)  # never drop a database under a running job
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def make_server(database_url: str, tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    """Start servers on the test's database; every Settings field can be overridden."""
    servers: list[ApiServer] = []

    def make(**overrides: Any) -> ApiServer:
        values: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": tmp_path / "data",
            "backup_dir": tmp_path / "backups",
            "api_key": None,
            "tables": DEFAULT_TABLES,
            "max_upload_bytes": 10 * 1024**3,
            "schedule": "off",  # no automatic backup in the middle of a test (tests of §9 turn it on)
        }
        values.update(overrides)
        server = ApiServer(Settings(**values)).start()
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., ApiServer]) -> ApiServer:
    return make_server()


@pytest.fixture
def client(server: ApiServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def fill_app_data(db: psycopg.Connection, events: int = 300) -> None:
    """A little of every default table, with values that are easy to get wrong."""
    db.execute(
        "INSERT INTO cameras (id, name, folder_path, status) VALUES"
        " ('front_door', 'Front Door', '/cams/front', 'online'), ('yard', 'Yard \"quoted\"', '/cams/yard', 'offline')"
    )
    db.execute(
        "INSERT INTO events (batch_id, camera_id, started_at, ended_at, risk_score, risk_level, summary,"
        " search_vector, entities, flags, notes)"
        " SELECT 'batch-' || g, CASE WHEN g %% 2 = 0 THEN 'front_door' ELSE 'yard' END,"
        " '2026-03-01'::timestamptz + (g / 3) * interval '7 minutes', NULL, g %% 101, 'low',"
        " E'person at door \\\\ \"' || g || E'\"\\n日本 🎥', to_tsvector('english', 'person at door ' || g),"
        " jsonb_build_object('n', g), CASE WHEN g %% 5 = 0 THEN 'null'::jsonb END, NULL"
        " FROM generate_series(1, %s) g",
        [events],
    )
    db.execute(
        "INSERT INTO alerts (id, event_id, dedup_key, channels, metadata)"
        " SELECT gen_random_uuid(), id, 'k' || id, '[\"push\"]', '{\"x\" : 1}' FROM events WHERE id % 3 = 0"
    )
    db.execute("INSERT INTO zones (id, camera_id, name, coordinates) VALUES ('z1', 'yard', 'Lawn', '[[0,0],[1,1]]')")
    db.execute("INSERT INTO prompts (model, system_prompt, temperature) VALUES ('nemotron', 'You watch cameras.', 0.1)")
    db.execute("INSERT INTO baselines (camera_id, hour, day_of_week, avg_count) VALUES ('yard', 3, 1, 0.25)")
    db.execute("INSERT INTO household_members (name, role, trusted_level) VALUES ('Ana', 'resident', 'full')")
    db.execute("INSERT INTO settings (key, value) VALUES ('theme', '\"dark\"'), ('nothing', 'null')")


def table_fingerprint(db: psycopg.Connection, tables: tuple[str, ...] = DEFAULT_TABLES) -> dict[str, list[str]]:
    """Every row of every table as text, in a stable order: equal fingerprints mean equal data."""
    out: dict[str, list[str]] = {}
    for table in tables:
        query = sql.SQL('SELECT t::text FROM {} AS t ORDER BY t::text COLLATE "C"').format(sql.Identifier(table))
        out[table] = [row[0] for row in db.execute(query)]
    return out


def poll(
    client: httpx.Client,
    url: str,
    *,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 60,
    interval: float = 0.02,
) -> list[dict[str, Any]]:
    """GET `url` until `until(body)`; return every body seen (for monotonicity checks)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if until(seen[-1]):
            return seen
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} still {seen[-1]}")
        time.sleep(interval)


def finished(body: dict[str, Any]) -> bool:
    return body["status"] in ("completed", "failed")


def run_backup(client: httpx.Client) -> tuple[str, list[dict[str, Any]]]:
    response = client.post("/api/backup")
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    return job_id, poll(client, f"/api/backup/{job_id}", until=finished)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def assert_monotonic(bodies: list[dict[str, Any]]) -> None:
    """progress_percent and completed_tables never decrease; 100 only once completed."""
    percents = [b["progress"]["progress_percent"] for b in bodies]
    tables = [b["progress"]["completed_tables"] for b in bodies]
    assert percents == sorted(percents), percents
    assert tables == sorted(tables), tables
    for body in bodies:
        if body["progress"]["progress_percent"] == 100:
            assert body["status"] == "completed", body
