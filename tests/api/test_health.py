"""GET /api/health says which PostgreSQL backupd is connected to, in the words the manifest uses
for the server a backup came from (docs/operations.md): users see what they run, on 15 as on 18."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg

from backupd.backup.engine import create_backup
from tests.support.api import ApiServer


def test_health_reports_the_connected_servers_version(client: httpx.Client, db: psycopg.Connection) -> None:
    body = client.get("/api/health").json()
    expected = db.execute("SHOW server_version").fetchone()[0]
    assert body["database_version"] == expected
    major = db.info.server_version // 10000
    assert body["database_version"].split(".")[0] == str(major)
    assert body["status"] == "ok" and body["database"] == "ok"


def test_health_version_is_the_manifests_server_version(
    client: httpx.Client, database_url: str, tmp_path: Path
) -> None:
    manifest = create_backup(database_url, tmp_path / "a.zip").manifest
    assert manifest.server_version
    assert client.get("/api/health").json()["database_version"] == manifest.server_version


def test_openapi_documents_database_version(server: ApiServer) -> None:
    with server.client() as c:
        schema = c.get("/openapi.json").json()["components"]["schemas"]["HealthResponse"]
    assert "database_version" in schema["properties"]
