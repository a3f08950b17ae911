"""Issue 26: a client generated from the OpenAPI document can use every response as it is.

Every property of a response schema is sent by the server every time (null where it can be null), so
the document must list it as required; request schemas keep their optional fields. The walk follows
every `$ref` reachable from any response of any operation.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import run_backup

# FastAPI's own 422 body: `ctx` and `input` of a ValidationError are not always sent.
FASTAPI_SCHEMAS = {"HTTPValidationError", "ValidationError"}


def refs_in(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= refs_in(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs_in(value)
    return found


def reachable(spec: dict[str, Any], roots: set[str]) -> set[str]:
    schemas = spec["components"]["schemas"]
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(refs_in(schemas[name]) - seen)
    return seen


def response_schemas(spec: dict[str, Any]) -> set[str]:
    roots: set[str] = set()
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                roots |= refs_in(operation.get("responses", {}))
    return reachable(spec, roots) - FASTAPI_SCHEMAS


def request_schemas(spec: dict[str, Any]) -> set[str]:
    roots: set[str] = set()
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                roots |= refs_in(operation.get("requestBody", {})) | refs_in(operation.get("parameters", []))
    return reachable(spec, roots)


def test_every_response_property_is_required(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    names = response_schemas(spec)
    assert {"BackupListResponse", "BackupJobResponse", "ScheduleResponse", "AuditListResponse"} <= names
    optional: list[str] = []
    count = 0
    for name in sorted(names):
        schema = spec["components"]["schemas"][name]
        properties = set(schema.get("properties", {}))
        count += len(properties)
        optional += [f"{name}.{p}" for p in sorted(properties - set(schema.get("required", [])))]
    assert not optional, f"response properties the document calls optional: {optional}"
    assert count >= 100
    assert not names & request_schemas(spec), "a schema is shared by requests and responses"


def test_request_schemas_keep_their_optional_fields(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    options = spec["components"]["schemas"]["RestoreOptions"]
    assert not options.get("required"), options


def test_the_server_sends_every_required_property(client: httpx.Client) -> None:
    """The document's promise checked on real answers of the main reads."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    job_id, _ = run_backup(client)
    answers = {
        "BackupListResponse": client.get("/api/backup").json(),
        "BackupJobResponse": client.get(f"/api/backup/{job_id}").json(),
        "ScheduleResponse": client.get("/api/schedule").json(),
        "WhoAmIResponse": client.get("/api/whoami").json(),
        "AuditListResponse": client.get("/api/audit").json(),
        "DrillListResponse": client.get("/api/drills").json(),
    }
    answers["BackupListItem"] = answers["BackupListResponse"]["backups"][0]
    answers["BackupJobProgress"] = answers["BackupJobResponse"]["progress"]
    answers["RetentionPolicy"] = answers["ScheduleResponse"]["retention"]
    for name, body in answers.items():
        assert set(schemas[name]["required"]) == set(body), name
