"""Issue 15: /openapi.json tells the truth (through real HTTP; the broad check is `make test-schemathesis`).

Each case answers a status that was once missing from the document; here the server's answer and the
document are compared directly: the status is documented for that operation, with the shared
`ErrorResponse` body, and a 405 lists every method of the path.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from backupd.api.responses import ERROR_SCHEMA_REF
from tests.support.api import fill_app_data

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
NOT_A_ZIP = "Invalid file type. Expected a .zip backup file."


def spec_of(c: httpx.Client) -> dict[str, Any]:
    response = c.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def documented(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return spec["paths"][path][method.lower()]["responses"]


def assert_documented_error(
    spec: dict[str, Any], path: str, method: str, response: httpx.Response, status: int
) -> None:
    """The server answered `status` with `{"detail": "..."}`, and the document says so for this operation."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    entry = documented(spec, path, method).get(str(status))
    assert entry is not None, f"{method} {path}: {status} is not documented"
    assert entry["content"]["application/json"]["schema"] == {"$ref": ERROR_SCHEMA_REF}


def methods_of(spec: dict[str, Any], path: str) -> str:
    return ", ".join(sorted(m.upper() for m in spec["paths"][path] if m in HTTP_METHODS))


def routed_methods(spec: dict[str, Any], url: str) -> set[str]:
    """Methods some documented path sends this URL to (PATCH /api/backup/restore is job 'restore')."""
    methods: set[str] = set()
    for template, item in spec["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), url):
            methods |= {m.upper() for m in item if m in HTTP_METHODS}
    return methods


# ------------------------------------------------------------------------------------------
# 405: Allow lists every method of the path


@pytest.mark.parametrize(
    ("template", "url", "at_least"),
    [
        ("/api/backup", "/api/backup", {"GET", "POST"}),
        ("/api/backup/{job_id}", "/api/backup/{id}", {"DELETE", "GET"}),
        ("/api/backup/{job_id}/download", "/api/backup/{id}/download", {"GET"}),
        ("/api/backup/restore", "/api/backup/restore", {"POST"}),  # a concrete path wins over /api/backup/{job_id}
        ("/api/backup/restore/{job_id}", "/api/backup/restore/{id}", {"GET"}),
        ("/api/export/events", "/api/export/events", {"GET"}),
        ("/api/health", "/api/health", {"GET"}),
    ],
)
def test_405_allow_lists_every_method_of_the_path(
    client: httpx.Client, template: str, url: str, at_least: set[str]
) -> None:
    spec = spec_of(client)
    expected = methods_of(spec, template)
    assert at_least <= set(expected.split(", "))
    url = url.format(id=uuid.uuid4())
    undeclared = [m for m in ("OPTIONS", "PUT", "PATCH", "TRACE") if m not in routed_methods(spec, url)]
    assert "OPTIONS" in undeclared
    for method in undeclared:
        response = client.request(method, url)
        assert response.status_code == 405, (method, url, response.text)
        assert response.headers["allow"] == expected, (method, url)
        assert response.json() == {"detail": "Method Not Allowed"}


def test_405_allow_exact_values(client: httpx.Client) -> None:
    """The two paths of the issue, spelled out (the methods FastAPI routes at the time of writing)."""
    spec = spec_of(client)
    response = client.options("/api/backup")
    assert response.status_code == 405 and response.headers["allow"] == methods_of(spec, "/api/backup")
    assert {"GET", "POST"} <= set(response.headers["allow"].split(", "))
    response = client.options(f"/api/backup/{uuid.uuid4()}")
    assert response.status_code == 405 and response.headers["allow"] == methods_of(spec, "/api/backup/{job_id}")
    assert {"DELETE", "GET"} <= set(response.headers["allow"].split(", "))


# ------------------------------------------------------------------------------------------
# Each error status the server answers is documented, with the shared body


def test_malformed_timestamp_is_a_documented_400(client: httpx.Client) -> None:
    spec = spec_of(client)
    for query in ({"until": "ó"}, {"since": "2026-13-01T00:00:00Z"}, {"since": "2024-01-01T12:99:00Z"}):
        response = client.get("/api/export/events", params=query)
        assert_documented_error(spec, "/api/export/events", "GET", response, 400)
        assert response.json()["detail"].startswith("Invalid timestamp for ")


def test_malformed_json_body_is_a_documented_400(client: httpx.Client) -> None:
    spec = spec_of(client)
    # Bytes that are not even text: FastAPI cannot parse them (400, not its usual 422).
    response = client.post(
        "/api/backup", content=b"\xff\xfe \x03\xc0@\x14", headers={"Content-Type": "application/json"}
    )
    assert_documented_error(spec, "/api/backup", "POST", response, 400)
    assert response.json() == {"detail": "There was an error parsing the body"}
    for bad in (b"{not json", b"[1]"):  # broken JSON, or JSON that is no object: FastAPI's 422
        response = client.post("/api/backup", content=bad, headers={"Content-Type": "application/json"})
        assert response.status_code == 422 and "422" in documented(spec, "/api/backup", "POST")


def test_upload_that_is_not_a_zip_is_a_documented_400(client: httpx.Client) -> None:
    spec = spec_of(client)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    response = client.post("/api/backup/restore", files={"file": ("file.png", png, "image/png")})
    assert_documented_error(spec, "/api/backup/restore", "POST", response, 400)
    assert response.json() == {"detail": NOT_A_ZIP}
    response = client.post("/api/backup/restore", json={"file": "x"})  # not multipart at all
    assert_documented_error(spec, "/api/backup/restore", "POST", response, 400)
    assert "422" not in documented(spec, "/api/backup/restore", "POST")  # read by hand: never 422


def test_not_found_is_documented(client: httpx.Client) -> None:
    spec = spec_of(client)
    missing = str(uuid.uuid4())
    for method, template in (
        ("GET", "/api/backup/{job_id}"),
        ("DELETE", "/api/backup/{job_id}"),
        ("GET", "/api/backup/{job_id}/download"),
        ("GET", "/api/backup/restore/{job_id}"),
    ):
        response = client.request(method, template.replace("{job_id}", missing))
        assert_documented_error(spec, template, method, response, 404)


def test_host_and_origin_refusals_are_documented(client: httpx.Client) -> None:
    """docs/rest-api.md's 403s: a foreign Host (no key: every /api operation), a foreign Origin (writes)."""
    spec = spec_of(client)
    response = client.get("/api/backup", headers={"Host": "attacker.example"})
    assert_documented_error(spec, "/api/backup", "GET", response, 403)
    assert response.json() == {"detail": "Host not allowed: attacker.example"}
    response = client.post("/api/backup", headers={"Origin": "http://evil.example"})
    assert_documented_error(spec, "/api/backup", "POST", response, 403)
    assert response.json() == {"detail": "Cross-origin request refused"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/") and method in HTTP_METHODS:
                assert "403" in operation["responses"], (method, path)
                assert "401" not in operation["responses"], (method, path)  # no key, no 401


def test_every_api_operation_documents_500_and_503_with_the_shared_schema(client: httpx.Client) -> None:
    spec = spec_of(client)
    assert spec["components"]["schemas"]["ErrorResponse"]["required"] == ["detail"]
    assert spec["components"]["schemas"]["ErrorResponse"]["properties"]["detail"]["type"] == "string"
    for path, item in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation["responses"]
            assert {"500", "503"} <= set(responses), (method, path)
            for code, entry in responses.items():
                if int(code) >= 400 and code != "422":
                    json_body = entry.get("content", {}).get("application/json")
                    if json_body is not None:  # 416 is text/plain, from Starlette
                        assert json_body["schema"] == {"$ref": ERROR_SCHEMA_REF}, (method, path, code)


def test_with_a_key_401_is_documented_and_answered(make_server) -> None:
    server = make_server(api_key="k3y")
    with server.client() as c:
        spec = spec_of(c)
        response = c.get("/api/backup")
        assert_documented_error(spec, "/api/backup", "GET", response, 401)
        assert response.headers["www-authenticate"] == "X-API-Key"
        response = c.post("/api/backup", headers={"Origin": "http://evil.example", "X-API-Key": "k3y"})
        assert_documented_error(spec, "/api/backup", "POST", response, 403)
    assert "401" not in documented(spec, "/api/health", "GET")  # the one public /api path
    # With a key the Host check is off, so a read cannot be refused with 403; a write still can (Origin).
    assert "403" not in documented(spec, "/api/backup", "GET")
    assert "403" in documented(spec, "/api/backup/{job_id}", "DELETE")


# ------------------------------------------------------------------------------------------
# since / until: date-time in the document, and every RFC 3339 date-time accepted


def test_since_until_are_date_time(client: httpx.Client) -> None:
    parameters = {p["name"]: p for p in spec_of(client)["paths"]["/api/export/events"]["get"]["parameters"]}
    assert set(parameters) == {"since", "until"}
    for parameter in parameters.values():
        assert parameter["in"] == "query" and parameter["required"] is False
        assert parameter["schema"]["type"] == "string" and parameter["schema"]["format"] == "date-time"
        assert parameter["allowEmptyValue"] is True  # `?since=` means no bound, and the server says so


def _count(c: httpx.Client, **params: str) -> int:
    response = c.get("/api/export/events", params=params)
    assert response.status_code == 200, (params, response.text)
    return len(response.content.splitlines())


def test_every_rfc3339_offset_and_year_is_accepted(client: httpx.Client, db: psycopg.Connection) -> None:
    """RFC 3339 allows offsets up to ±23:59 (PostgreSQL's own limit is ±15:59) and years 0001–9999."""
    fill_app_data(db, events=30)  # started_at from 2026-03-01T00:00Z, 7 minutes apart per 3 events
    total = _count(client)
    assert total == 30
    # The same instants written with extreme offsets select the same rows.
    assert _count(client, since="2026-03-01T00:35:00Z") == _count(client, since="2026-03-02T00:34:00+23:59")
    assert _count(client, until="2026-03-01T00:35:00Z") == _count(client, until="2026-02-28T00:36:00-23:59")
    assert 0 < _count(client, until="2026-03-01T00:35:00Z") < total
    # At the ends of the calendar the UTC instant is outside what a Python datetime can hold.
    assert _count(client, since="0001-01-01T00:00:00+23:59") == total
    assert _count(client, until="9999-12-31T23:59:59.999999-23:59") == total
    assert _count(client, since="9999-12-31T23:59:59-23:59") == 0
    assert _count(client, since="", until="") == total  # allowEmptyValue
