"""docs/rest-api.md: named keys and roles, through real HTTP on a real PostgreSQL.

The matrix takes every operation of the OpenAPI document (and every operation of the rule table the
server has) and asks it with no key, a wrong key and a key of each role: 401 without a valid key, 403
`Role <role> may not <action>` below the operation's role, anything but 401/403 otherwise. The expected
answers come from api.roles.RULES; a documented operation without a rule fails `test_every_operation_has_a_rule`.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backupd.api.keys import Keyring, keyring_from, parse_api_keys
from backupd.api.roles import RULES, RULES_BY_OPERATION, Role, forbidden_detail, rule_for
from backupd.config import Settings
from backupd.errors import ConfigError
from tests.support.api import ApiServer

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
KEYS = {Role.VIEWER: "viewer-secret-1", Role.OPERATOR: "operator-secret-2", Role.ADMIN: "admin-secret-3"}
NAMES = {Role.VIEWER: "vera", Role.OPERATOR: "otto", Role.ADMIN: "ada"}
# The admin key is given as its SHA-256, as an operator who keeps keys out of the environment would.
ADMIN_DIGEST = hashlib.sha256(KEYS[Role.ADMIN].encode()).hexdigest()
API_KEYS = (
    f"{NAMES[Role.VIEWER]}:viewer:{KEYS[Role.VIEWER]},"
    f"{NAMES[Role.OPERATOR]}:operator:{KEYS[Role.OPERATOR]},"
    f"{NAMES[Role.ADMIN]}:admin:sha256:{ADMIN_DIGEST}"
)
UNAUTHORIZED = {"detail": "Invalid or missing API key"}
SECRETS = (*KEYS.values(), ADMIN_DIGEST, *(hashlib.sha256(k.encode()).hexdigest() for k in KEYS.values()))


@pytest.fixture
def keyed(make_server: Callable[..., ApiServer]) -> ApiServer:
    return make_server(api_keys=API_KEYS)


@pytest.fixture
def http(keyed: ApiServer) -> Iterator[httpx.Client]:
    with keyed.client() as c:
        yield c


def as_role(role: Role | None) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]} if role is not None else {}


def spec_operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((m.upper(), p) for p, item in spec["paths"].items() for m in item if m in HTTP_METHODS)


def served_operations(server: ApiServer) -> set[tuple[str, str]]:
    """(method, template) of every route the app has, documented or not (GET /metrics need not be)."""
    from backupd.api.roles import leaf_routes

    ops: set[tuple[str, str]] = set()
    for route in leaf_routes(server.app.router.routes):
        template = getattr(route, "path_format", None) or getattr(route, "path", "")
        ops |= {(m, template) for m in (getattr(route, "methods", None) or ()) if m != "HEAD"}
    return ops


def concrete(template: str) -> str:
    out = template
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        out = out[:start] + str(uuid.uuid4()) + out[end + 1 :]
    return out


def matrix_operations(server: ApiServer, spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The document's operations, and those of the rule table the server has but does not document."""
    served = served_operations(server)
    extra = {(r.method, r.path) for r in RULES if (r.method, r.path) in served}
    return sorted(set(spec_operations(spec)) | extra)


def expected(method: str, template: str, role: Role | None) -> tuple[int, dict[str, str]] | None:
    """(status, body) the rules demand, or None: the request is allowed (anything but 401/403)."""
    rule = rule_for(method, template)
    if rule.role is None:
        return None
    if role is None:
        return 401, UNAUTHORIZED
    if not role.may(rule.role):
        return 403, {"detail": forbidden_detail(role, rule)}
    return None


def test_every_operation_has_a_rule(keyed: ApiServer, http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    missing = [op for op in spec_operations(spec) if op not in RULES_BY_OPERATION]
    assert not missing, f"operations without a rule in backupd.api.roles.RULES: {missing}"
    undocumented = [op for op in served_operations(keyed) if op[1].startswith("/api") and op not in RULES_BY_OPERATION]
    assert not undocumented, undocumented


@pytest.mark.parametrize("role", [None, Role.VIEWER, Role.OPERATOR, Role.ADMIN], ids=lambda r: r or "no-key")
def test_role_matrix(keyed: ApiServer, http: httpx.Client, role: Role | None) -> None:
    spec = http.get("/openapi.json").json()
    operations = matrix_operations(keyed, spec)
    assert len(operations) >= 19
    wrong: list[str] = []
    for method, template in operations:
        url = concrete(template)
        response = http.request(method, url, headers=as_role(role))
        want = expected(method, template, role)
        if want is None:
            if response.status_code in (401, 403):
                wrong.append(f"{method} {template}: {response.status_code} {response.text}")
        elif (response.status_code, response.json()) != want:
            wrong.append(f"{method} {template}: {response.status_code} {response.text}, expected {want}")
        if role is None and want is not None:  # a wrong key is no key
            bad = http.request(method, url, headers={"X-API-Key": "not-a-key"})
            if (bad.status_code, bad.json()) != want:
                wrong.append(f"{method} {template} with a wrong key: {bad.status_code} {bad.text}")
    keyed.services.runner.wait(60)
    assert not wrong, "\n".join(wrong)


def test_the_rules_say_what_the_contract_says() -> None:
    """§17 in words: viewers read (not downloads, exports, the audit); operators back up, drill, test notify."""
    for rule in RULES:
        if rule.role is None:
            assert (rule.method, rule.path) == ("GET", "/api/health")
        elif rule.method == "GET" and rule.path not in (
            "/api/backup/{job_id}/download",
            "/api/export/events",
            "/api/audit",
        ):
            assert rule.role == Role.VIEWER, rule
        elif (rule.method, rule.path) in (
            ("POST", "/api/backup"),
            ("POST", "/api/backup/{job_id}/drill"),
            ("POST", "/api/notify/test"),
        ):
            assert rule.role == Role.OPERATOR, rule
        else:
            assert rule.role == Role.ADMIN, rule
        assert rule.audited == (
            rule.method != "GET" or rule.path in ("/api/backup/{job_id}/download", "/api/export/events")
        )
    assert rule_for("POST", "/api/some/new/route").role == Role.ADMIN  # fail closed


def test_openapi_states_each_operations_role(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    for method, path in spec_operations(spec):
        operation = spec["paths"][path][method.lower()]
        rule = rule_for(method, path)
        assert operation["x-required-role"] == (rule.role.value if rule.role else None)
        assert "Required role:" in operation["description"]
        if rule.role in (Role.OPERATOR, Role.ADMIN):
            assert f"Role <role> may not {rule.action}" in operation["responses"]["403"]["description"]


def test_whoami(http: httpx.Client, make_server: Callable[..., ApiServer]) -> None:
    for role in Role:
        assert http.get("/api/whoami", headers=as_role(role)).json() == {
            "name": NAMES[role],
            "role": role.value,
            "keys_configured": True,
        }
    assert http.get("/api/whoami").status_code == 401
    with make_server().client() as open_client:
        assert open_client.get("/api/whoami").json() == {"name": None, "role": "admin", "keys_configured": False}


def test_single_api_key_is_an_admin_named_default(make_server: Callable[..., ApiServer]) -> None:
    with make_server(api_key="only-key").client() as c:
        assert c.get("/api/whoami", headers={"X-API-Key": "only-key"}).json()["name"] == "default"
        assert c.get("/api/audit", headers={"X-API-Key": "only-key"}).status_code == 200
        assert c.get("/api/audit").status_code == 401


def test_metrics_needs_a_key_when_keys_are_set(keyed: ApiServer, http: httpx.Client) -> None:
    if ("GET", "/metrics") not in served_operations(keyed):
        pytest.skip("GET /metrics is not served by this build yet")
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers=as_role(Role.VIEWER)).status_code == 200


def test_no_key_or_digest_leaks(
    keyed: ApiServer, http: httpx.Client, caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for role in (None, *Role):
        for url in ("/api/whoami", "/api/audit", "/openapi.json", "/api/backup", "/", "/docs"):
            r = http.get(url, headers=as_role(role))
            seen.append(r.text + str(r.headers))
        r = http.post("/api/backup", headers=as_role(role))
        seen.append(r.text + str(r.headers))
    keyed.services.runner.wait(60)
    seen.append(caplog.text)
    import psycopg

    with psycopg.connect(database_url) as conn:
        seen.append(str(conn.execute("SELECT * FROM backupd.audit_log").fetchall()))
    text = "\n".join(seen)
    for secret in SECRETS:
        assert secret not in text and secret.upper() not in text
    assert repr(keyring_from(Settings(api_keys=API_KEYS))).count("digest") == 0


# ------------------------------------------------------------------------------------------
# Configuration


def test_parse_api_keys() -> None:
    keys = parse_api_keys(f" a:viewer:k1 , b:OPERATOR:k:with:colons, c:admin:sha256:{ADMIN_DIGEST}")
    assert [(k.name, k.role) for k in keys] == [("a", Role.VIEWER), ("b", Role.OPERATOR), ("c", Role.ADMIN)]
    ring = Keyring(keys)
    assert ring.identify(b"k1") == keys[0]
    assert ring.identify(b"k:with:colons") == keys[1]
    assert ring.identify(KEYS[Role.ADMIN].encode()) == keys[2]
    assert ring.identify(ADMIN_DIGEST.encode()) is None  # the digest is not a key
    assert ring.identify(b"") is None and ring.identify(None) is None


@pytest.mark.parametrize(
    ("api_keys", "api_key", "message"),
    [
        ("a:viewer", None, "BACKUPD_API_KEYS entry 1 is not name:role:key"),
        ("a:boss:k", None, "BACKUPD_API_KEYS entry 1 (a): unknown role 'boss': use viewer, operator or admin"),
        ("x:viewer:k1,:viewer:k2", None, "BACKUPD_API_KEYS entry 2: the name must be"),
        ("a:viewer:sha256:abc", None, "BACKUPD_API_KEYS entry 1 (a): a sha256: key must be followed by 64"),
        ("a:viewer:k1,a:admin:k2", None, "BACKUPD_API_KEYS: the name a is used twice"),
        ("a:viewer:k1,b:admin:k1", None, "BACKUPD_API_KEYS: the key of b is also another entry's key"),
        ("default:viewer:k1", "k2", "BACKUPD_API_KEYS: the name default is used twice"),
        (" , ", None, "BACKUPD_API_KEYS is set but lists no key"),
    ],
)
def test_bad_api_keys_are_one_line_errors(api_keys: str, api_key: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        keyring_from(Settings(api_keys=api_keys, api_key=api_key))
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text, text
    assert "k1" not in text and "k2" not in text  # never the key itself


def test_serve_refuses_bad_api_keys_in_one_line(database_url: str, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "BACKUPD_DATABASE_URL": database_url,
        "BACKUPD_DATA_DIR": str(tmp_path / "data"),
        "BACKUPD_API_KEYS": "ann:superuser:topsecret-value",
    }
    result = subprocess.run(
        [sys.executable, "-m", "backupd.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [
        "backupd: error: BACKUPD_API_KEYS entry 1 (ann): unknown role 'superuser': use viewer, operator or admin"
    ]
    assert "topsecret-value" not in result.stderr + result.stdout
