"""docs/rest-api.md: the audit trail, through real HTTP on a real PostgreSQL.

Every state-changing request, download and export leaves one row (refused ones too) with the key's name,
the ids it touched and the status answered; GET /api/audit (admin) pages through them newest first;
nothing can change or remove a row; a row that cannot be written never fails the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from backupd.api.roles import RULES, Role
from tests.support.api import ApiServer, fill_app_data, finished, poll

KEYS = {Role.VIEWER: "audit-viewer-key", Role.OPERATOR: "audit-operator-key", Role.ADMIN: "audit-admin-key"}
API_KEYS = f"vera:viewer:{KEYS[Role.VIEWER]},otto:operator:{KEYS[Role.OPERATOR]},ada:admin:{KEYS[Role.ADMIN]}"


def as_role(role: Role) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


@pytest.fixture
def keyed(make_server: Callable[..., ApiServer]) -> ApiServer:
    return make_server(api_keys=API_KEYS)


@pytest.fixture
def http(keyed: ApiServer) -> Iterator[httpx.Client]:
    with keyed.client() as c:
        yield c


def audit(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get("/api/audit", params=params, headers=as_role(Role.ADMIN))
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def latest(http: httpx.Client) -> dict[str, Any]:
    return audit(http, limit=1)[0]


def expect_row(row: dict[str, Any], **want: Any) -> None:
    assert {k: row[k] for k in want} == want, row
    assert row["source"] == "api" and row["client"] == "127.0.0.1"


def test_every_state_changing_route_is_recorded(keyed: ApiServer, http: httpx.Client, db: psycopg.Connection) -> None:
    fill_app_data(db, 50)
    admin, operator = as_role(Role.ADMIN), as_role(Role.OPERATOR)
    covered: set[tuple[str, str]] = set()

    started = http.post("/api/backup", headers=operator)
    assert started.status_code == 202, started.text
    backup_id = started.json()["job_id"]
    expect_row(latest(http), key_name="otto", role="operator", method="POST", path="/api/backup", status=202,
               action="start a backup", target_id=None, job_id=backup_id)  # fmt: skip
    covered.add(("POST", "/api/backup"))
    http.headers.update(as_role(Role.VIEWER))
    poll(http, f"/api/backup/{backup_id}", until=finished)
    del http.headers["X-API-Key"]
    before = len(audit(http, limit=500))  # the polls (GETs) were not recorded
    assert before == 1

    download = http.get(f"/api/backup/{backup_id}/download", headers=admin)
    assert download.status_code == 200 and download.content[:2] in (b"PK", b"ag")
    expect_row(latest(http), key_name="ada", role="admin", method="GET", status=200, target_id=backup_id, job_id=None)
    covered.add(("GET", "/api/backup/{job_id}/download"))

    export = http.get("/api/export/events", headers=admin)
    assert export.status_code == 200
    expect_row(latest(http), key_name="ada", method="GET", path="/api/export/events", status=200, target_id=None)
    covered.add(("GET", "/api/export/events"))

    pin = http.patch(f"/api/backup/{backup_id}", json={"pinned": True}, headers=admin)
    assert pin.status_code == 200, pin.text
    expect_row(latest(http), key_name="ada", method="PATCH", status=200, target_id=backup_id, job_id=None,
               action="pin or unpin a backup")  # fmt: skip
    covered.add(("PATCH", "/api/backup/{job_id}"))

    drill = http.post(f"/api/backup/{backup_id}/drill", headers=operator)  # no drill database: refused, recorded
    expect_row(latest(http), key_name="otto", method="POST", status=drill.status_code, target_id=backup_id)
    covered.add(("POST", "/api/backup/{job_id}/drill"))

    restore = http.post(f"/api/backup/{backup_id}/restore", json={"dry_run": True}, headers=admin)
    assert restore.status_code == 202, restore.text
    restore_id = restore.json()["job_id"]
    expect_row(latest(http), key_name="ada", method="POST", path=f"/api/backup/{backup_id}/restore", status=202,
               target_id=backup_id, job_id=restore_id, action="restore a backup")  # fmt: skip
    covered.add(("POST", "/api/backup/{job_id}/restore"))
    http.headers.update(as_role(Role.VIEWER))
    poll(http, f"/api/backup/restore/{restore_id}", until=finished)
    del http.headers["X-API-Key"]

    archive = http.get(f"/api/backup/{backup_id}/download", headers=admin).content
    upload = http.post(
        "/api/backup/restore", files={"file": ("b.zip", archive, "application/zip")}, data={"dry_run": "true"},
        headers=admin,
    )  # fmt: skip
    assert upload.status_code == 202, upload.text
    upload_id = upload.json()["job_id"]
    expect_row(latest(http), key_name="ada", path="/api/backup/restore", status=202, target_id=None, job_id=upload_id)
    covered.add(("POST", "/api/backup/restore"))
    http.headers.update(as_role(Role.VIEWER))
    poll(http, f"/api/backup/restore/{upload_id}", until=finished)
    del http.headers["X-API-Key"]

    schedule = http.put("/api/schedule", json={"retention": {"keep_last": 9}}, headers=admin)
    assert schedule.status_code == 200, schedule.text
    expect_row(latest(http), key_name="ada", method="PUT", path="/api/schedule", status=200)
    covered.add(("PUT", "/api/schedule"))

    prune = http.post("/api/backup/prune", headers=admin)
    assert prune.status_code == 200, prune.text
    expect_row(latest(http), key_name="ada", method="POST", path="/api/backup/prune", status=200)
    covered.add(("POST", "/api/backup/prune"))

    assert http.patch(f"/api/backup/{backup_id}", json={"pinned": False}, headers=admin).status_code == 200
    delete = http.delete(f"/api/backup/{backup_id}", headers=admin)
    assert delete.status_code == 200, delete.text
    expect_row(latest(http), key_name="ada", method="DELETE", status=200, target_id=backup_id, action="delete a backup")
    covered.add(("DELETE", "/api/backup/{job_id}"))

    served = {(r.method, r.path) for r in RULES if r.audited}
    absent = {("POST", "/api/notify/test")}  # another change adds it; its own test covers it when it exists
    assert served - absent <= covered, sorted(served - absent - covered)
    keyed.services.runner.wait(60)


def test_refused_requests_are_recorded(http: httpx.Client) -> None:
    job = "0190f000-0000-7000-8000-000000000001"
    assert http.delete(f"/api/backup/{job}", headers=as_role(Role.VIEWER)).status_code == 403
    expect_row(latest(http), key_name="vera", role="viewer", method="DELETE", status=403, target_id=job)
    assert http.delete(f"/api/backup/{job}").status_code == 401
    expect_row(latest(http), key_name=None, role=None, method="DELETE", status=401, target_id=job)
    assert http.delete(f"/api/backup/{job}", headers={"X-API-Key": "wrong"}).status_code == 401
    expect_row(latest(http), key_name=None, status=401)
    assert http.get(f"/api/backup/{job}/download", headers=as_role(Role.OPERATOR)).status_code == 403
    expect_row(latest(http), key_name="otto", method="GET", status=403, action="download an archive")
    cross = http.post("/api/backup", headers={**as_role(Role.ADMIN), "Origin": "http://evil.example"})
    assert cross.status_code == 403
    expect_row(latest(http), key_name=None, method="POST", status=403)  # refused before the key was looked at
    # Reading is not recorded, nor is reading the audit itself, nor a refused read of the audit
    count = len(audit(http, limit=500))
    http.get("/api/backup", headers=as_role(Role.VIEWER))
    http.get("/api/audit", headers=as_role(Role.VIEWER))
    assert len(audit(http, limit=500)) == count


def test_audit_pages_newest_first(http: httpx.Client) -> None:
    for n in range(5):
        http.delete(f"/api/backup/0190f000-0000-7000-8000-00000000000{n}", headers=as_role(Role.ADMIN))
    everything = audit(http, limit=500)
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    first = http.get("/api/audit", params={"limit": 2}, headers=as_role(Role.ADMIN)).json()
    assert [e["target_id"][-1] for e in first["entries"]] == ["4", "3"]
    assert first["next_before"] == first["entries"][-1]["id"]
    second = http.get("/api/audit", params={"limit": 2, "before": first["next_before"]}, headers=as_role(Role.ADMIN))
    assert [e["target_id"][-1] for e in second.json()["entries"]] == ["2", "1"]
    last = http.get("/api/audit", params={"limit": 2, "before": everything[-1]["id"] + 1}, headers=as_role(Role.ADMIN))
    assert len(last.json()["entries"]) == 1 and last.json()["next_before"] is None
    for bad in ({"limit": 0}, {"limit": 501}, {"before": 0}, {"before": "x"}):
        assert http.get("/api/audit", params=bad, headers=as_role(Role.ADMIN)).status_code == 422
    assert http.get("/api/audit", headers=as_role(Role.OPERATOR)).json() == {
        "detail": "Role operator may not read the audit trail"
    }


def test_audit_is_append_only(http: httpx.Client, db: psycopg.Connection) -> None:
    http.delete("/api/backup/0190f000-0000-7000-8000-000000000009", headers=as_role(Role.ADMIN))
    for statement in ("UPDATE backupd.audit_log SET key_name = 'someone'", "DELETE FROM backupd.audit_log"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            db.execute(statement)
    spec = http.get("/openapi.json").json()
    assert set(spec["paths"]["/api/audit"]) == {"get"}


def test_an_unwritable_audit_never_fails_the_request(
    http: httpx.Client, db: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="backupd.audit")
    db.execute("ALTER TABLE backupd.audit_log RENAME TO audit_log_away")
    try:
        response = http.delete("/api/backup/0190f000-0000-7000-8000-000000000009", headers=as_role(Role.ADMIN))
        assert response.status_code == 404 and response.json()["detail"].startswith("Backup job not found")
    finally:
        db.execute("ALTER TABLE backupd.audit_log_away RENAME TO audit_log")
    lines = [r.getMessage() for r in caplog.records if r.name == "backupd.audit"]
    assert len(lines) == 1 and lines[0].startswith("audit row not written (DELETE /api/backup/"), lines


def test_without_keys_changes_are_recorded_without_a_name(make_server: Callable[..., ApiServer]) -> None:
    server = make_server()
    with server.client() as c:
        assert c.delete("/api/backup/0190f000-0000-7000-8000-000000000009").status_code == 404
        row = c.get("/api/audit").json()["entries"][0]
    assert row["key_name"] is None and row["role"] is None and row["status"] == 404
