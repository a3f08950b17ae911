"""Test databases on the test server: one template migrated once, a fresh clone per test.

Names carry a prefix so a leftover from a killed run is recognisable (and never one of the user's).
"""

from __future__ import annotations

import uuid

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

TEMPLATE_PREFIX = "backupd_tmpl_"
TEST_PREFIX = "backupd_test_"


def url_for_database(server_url: str, dbname: str) -> str:
    params = conninfo_to_dict(server_url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(server_url, autocommit=True)


def create_database(server_url: str, template: str | None = None) -> str:
    name = (TEST_PREFIX if template else TEMPLATE_PREFIX) + uuid.uuid4().hex[:12]
    with _admin(server_url) as conn:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(query)
    return name


def drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
