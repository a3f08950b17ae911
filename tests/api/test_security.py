"""docs/rest-api.md: Host and Origin checks through real HTTP, the `serve` bind refusal, and the parsers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from backupd.api.security import (
    HostPort,
    Origin,
    cross_origin,
    is_loopback,
    parse_origin,
    same_origin,
    split_host,
)
from backupd.cli.serve import check_bind
from backupd.config import Settings
from backupd.errors import ConfigError
from tests.support.api import ApiServer, finished, poll, zip_bytes

ROOT = Path(__file__).resolve().parents[2]
CROSS_ORIGIN = {"detail": "Cross-origin request refused"}
EVIL = "http://evil.example"


# ------------------------------------------------------------------------------------------
# Parsers (pure functions)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("localhost:8000", HostPort("localhost", 8000)),
        ("LOCALHOST:8000", HostPort("localhost", 8000)),
        ("Example.COM", HostPort("example.com", None)),
        ("example.com.:80", HostPort("example.com", 80)),
        ("127.0.0.1:8000", HostPort("127.0.0.1", 8000)),
        ("[::1]:8000", HostPort("::1", 8000)),
        ("[::1]", HostPort("::1", None)),
        ("[0:0:0:0:0:0:0:1]:8000", HostPort("::1", 8000)),
        ("[FE80::A]:1", HostPort("fe80::a", 1)),
        ("example.com:", HostPort("example.com", None)),
    ],
)
def test_split_host(value: str, expected: HostPort) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        " ",
        ":8000",
        "[::1",
        "[::1]x",
        "[::1]8000",
        "[example.com]:80",
        "::1",
        "a:b:c",
        "host:99999",
        "host:-1",
        "host:abc",
        "host:\uff18\uff10",
        "a b",
        "user@host",
        "host/path",
    ],
)
def test_split_host_rejects(value: str | None) -> None:
    assert split_host(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8000", Origin("http", "127.0.0.1", 8000)),
        ("http://127.0.0.1", Origin("http", "127.0.0.1", 80)),
        ("https://127.0.0.1", Origin("https", "127.0.0.1", 443)),
        ("HTTPS://Example.COM", Origin("https", "example.com", 443)),
        ("http://[::1]:8000", Origin("http", "::1", 8000)),
        ("http://[::1]", Origin("http", "::1", 80)),
    ],
)
def test_parse_origin(value: str, expected: Origin) -> None:
    assert parse_origin(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "null",
        "",
        "file://",
        "chrome-extension://abcdef",
        "http://",
        "http://host/path",
        "http://user@host",
        "http://host?x",
        "127.0.0.1:8000",
        "http://host:99999",
        "ftp://host",
    ],
)
def test_parse_origin_rejects(value: str) -> None:
    assert parse_origin(value) is None


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://127.0.0.1", "127.0.0.1:80", True),
        ("https://example.com", "example.com:443", True),
        ("https://example.com", "example.com", True),  # behind a TLS proxy: Host without a port
        ("http://example.com", "example.com", True),
        ("http://EXAMPLE.com:80", "example.COM", True),
        ("http://[::1]:8000", "[::1]:8000", True),
        ("http://example.com:8080", "example.com", False),
        ("http://127.0.0.1:8000", "127.0.0.1:8001", False),
        ("http://127.0.0.1", "127.0.0.1:8000", False),
        ("http://localhost:8000", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000", "127.0.0.2:8000", False),
    ],
)
def test_same_origin(origin: str, host: str, same: bool) -> None:
    parsed_origin, parsed_host = parse_origin(origin), split_host(host)
    assert parsed_origin is not None and parsed_host is not None
    assert same_origin(parsed_origin, parsed_host) is same


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LocalHost",
        "localhost.",
        "127.0.0.1",
        "127.255.3.4",
        "::1",
        "[::1]",
        "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",
    ],
)
def test_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "10.0.0.1",
        "128.0.0.1",
        "192.168.1.2",
        "example.com",
        "localhost.example",
        "mylocalhost",
        "",
        "::2",
    ],
)
def test_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_cross_origin_rules() -> None:
    host = split_host("127.0.0.1:8000")
    none: frozenset[str] = frozenset()
    assert not cross_origin("GET", host, EVIL, "cross-site", none)  # reading is the Host check's business
    assert not cross_origin("OPTIONS", host, EVIL, None, none)
    assert not cross_origin("POST", host, None, None, none)  # curl, scripts
    assert not cross_origin("POST", host, "http://127.0.0.1:8000", "same-origin", none)
    assert not cross_origin("post", host, "http://127.0.0.1:8000", None, none)
    assert cross_origin("POST", host, EVIL, None, none)
    assert cross_origin("POST", host, "null", None, none)
    assert cross_origin("POST", None, "http://127.0.0.1:8000", None, none)  # no Host to compare with
    assert cross_origin("POST", host, None, "cross-site", none)  # a browser that sent no Origin
    assert cross_origin("DELETE", host, None, "same-site", none)  # e.g. another port of localhost
    assert not cross_origin("POST", host, None, "same-origin", none)
    assert not cross_origin("POST", host, None, "none", none)
    assert cross_origin("POST", host, "http://127.0.0.1:8000", "cross-site", none)  # the browser knows
    assert cross_origin("PROPFIND", host, EVIL, None, none)  # any method that is not safe
    allowed = frozenset({"backup.lan"})
    assert not cross_origin("POST", host, "http://backup.lan:5173", "cross-site", allowed)
    assert cross_origin("POST", host, "http://other.lan", None, allowed)


def test_allowed_hosts_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKUPD_ALLOWED_HOSTS", raising=False)
    assert Settings().allowed_hosts == ()
    monkeypatch.setenv("BACKUPD_ALLOWED_HOSTS", " Backup.LAN, ,other.example ,")
    assert Settings().allowed_hosts == ("backup.lan", "other.example")
    monkeypatch.setenv("BACKUPD_ALLOWED_HOSTS", "")
    assert Settings().allowed_hosts == ()
    assert Settings(allowed_hosts=["A.example"]).allowed_hosts == ("a.example",)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_check_bind_loopback_needs_no_key(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    check_bind(host, Settings(api_key=None), insecure_no_auth=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com"])
def test_check_bind_network_needs_key(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="BACKUPD_API_KEY"):
        check_bind(host, Settings(api_key=None), insecure_no_auth=False)
    check_bind(host, Settings(api_key="k"), insecure_no_auth=False)
    assert capsys.readouterr().err == ""
    check_bind(host, Settings(api_key=None), insecure_no_auth=True)
    err = capsys.readouterr().err
    assert err.startswith("backupd: warning:") and "BACKUPD_API_KEY" in err and err.count("\n") == 1


def test_docker_compose_requires_an_api_key() -> None:
    """Compose's `${VAR:?message}` stops `docker compose up` when the variable is unset or empty."""
    lines = [line.strip() for line in (ROOT / "docker-compose.yml").read_text().splitlines()]
    assert any("backupd serve --host 0.0.0.0" in line for line in lines)
    assert any(line.startswith("BACKUPD_API_KEY: ${BACKUPD_API_KEY:?") for line in lines)


# ------------------------------------------------------------------------------------------
# Through real HTTP


@pytest.fixture
def serve(make_server: Callable[..., ApiServer]) -> Callable[..., ApiServer]:
    """make_server without any BACKUPD_ALLOWED_HOSTS the developer's environment may hold."""

    def start(**overrides: object) -> ApiServer:
        return make_server(**{"allowed_hosts": (), **overrides})

    return start


@pytest.fixture
def http(serve: Callable[..., ApiServer]) -> Iterator[httpx.Client]:
    with serve().client() as client:
        yield client


def own_origin(client: httpx.Client) -> str:
    """The Origin of the web page the server itself serves: http://127.0.0.1:<port>."""
    return str(client.base_url).rstrip("/")


def job_count(db: psycopg.Connection, table: str = "backupd.backup_jobs") -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_cross_origin_post_is_refused_and_starts_nothing(http: httpx.Client, db: psycopg.Connection) -> None:
    for origin in (
        EVIL,
        "null",
        "http://localhost:1234",
        own_origin(http).replace("127.0.0.1", "localhost"),
        own_origin(http).rsplit(":", 1)[0] + ":1",
        "https://evil.example:443",
    ):
        response = http.post("/api/backup", headers={"Origin": origin})
        assert response.status_code == 403, (origin, response.text)
        assert response.json() == CROSS_ORIGIN
    response = http.post("/api/backup", headers={"Sec-Fetch-Site": "cross-site"})
    assert (response.status_code, response.json()) == (403, CROSS_ORIGIN)
    assert job_count(db) == 0


def test_same_origin_post_is_accepted(http: httpx.Client, db: psycopg.Connection) -> None:
    response = http.post("/api/backup", headers={"Origin": own_origin(http), "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 202, response.text
    poll(http, f"/api/backup/{response.json()['job_id']}", until=finished)
    # no Origin at all (curl, scripts) is not a browser on another site
    response = http.post("/api/backup")
    assert response.status_code == 202, response.text
    poll(http, f"/api/backup/{response.json()['job_id']}", until=finished)
    assert job_count(db) == 2


def test_other_state_changing_methods_are_refused(http: httpx.Client, db: psycopg.Connection) -> None:
    job = f"/api/backup/{uuid.uuid4()}"
    for method, path in (("DELETE", job), ("PUT", "/api/backup"), ("PATCH", "/api/backup"), ("DELETE", "/api/nowhere")):
        response = http.request(method, path, headers={"Origin": EVIL})
        assert (response.status_code, response.json()) == (403, CROSS_ORIGIN), (method, path)
    # the same requests from the page itself reach the routes (404 / 405: nothing was refused)
    assert http.delete(job, headers={"Origin": own_origin(http)}).status_code == 404
    assert http.put("/api/backup", headers={"Origin": own_origin(http)}).status_code == 405
    upload = zip_bytes({"manifest.json": b"{}"})
    response = http.post(
        "/api/backup/restore", headers={"Origin": EVIL}, files={"file": ("b.zip", upload, "application/zip")}
    )
    assert (response.status_code, response.json()) == (403, CROSS_ORIGIN)
    assert job_count(db, "backupd.restore_jobs") == 0


def test_reading_with_a_foreign_origin_is_allowed(http: httpx.Client) -> None:
    for path in ("/api/health", "/api/backup"):
        response = http.get(path, headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 200, (path, response.text)


def test_foreign_host_is_refused(http: httpx.Client, db: psycopg.Connection) -> None:
    for host in ("attacker.example", "attacker.example:8000", "ATTACKER.example."):
        for method, path in (
            ("GET", "/api/health"),
            ("GET", "/api/backup"),
            ("POST", "/api/backup"),
            ("GET", "/api/nowhere"),
            ("GET", "/api"),
        ):
            response = http.request(method, path, headers={"Host": host})
            assert response.status_code == 403, (host, path, response.text)
            assert response.json() == {"detail": "Host not allowed: attacker.example"}
    # the Host check comes first, also for a cross-origin POST
    response = http.post("/api/backup", headers={"Host": "10.1.2.3:8000", "Origin": EVIL})
    assert response.json() == {"detail": "Host not allowed: 10.1.2.3"}
    assert job_count(db) == 0


def test_web_page_is_served_to_any_host(http: httpx.Client) -> None:
    if not (ROOT / "backupd" / "web" / "index.html").is_file():
        pytest.skip("the web page is not built")
    assert http.get("/", headers={"Host": "attacker.example"}).status_code == 200


@pytest.mark.parametrize(
    "host", ["localhost:8000", "LOCALHOST", "127.0.0.1:8000", "127.0.0.2", "[::1]:8000", "[::1]", "localhost.:8000"]
)
def test_loopback_hosts_are_served(http: httpx.Client, host: str) -> None:
    response = http.get("/api/health", headers={"Host": host})
    assert response.status_code == 200, response.text


def test_request_without_host_is_refused(http: httpx.Client) -> None:
    port = int(own_origin(http).rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /api/health HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"403", data
    assert body == b'{"detail":"Host not allowed: "}'


def test_allowed_hosts_extend_host_and_origin(serve: Callable[..., ApiServer], db: psycopg.Connection) -> None:
    server = serve(allowed_hosts=("backup.lan", "192.168.1.5"))
    with server.client() as http:
        for host in ("backup.lan", "BACKUP.LAN:8000", "192.168.1.5:8000"):
            assert http.get("/api/health", headers={"Host": host}).status_code == 200, host
        response = http.get("/api/health", headers={"Host": "other.lan"})
        assert (response.status_code, response.json()) == (403, {"detail": "Host not allowed: other.lan"})
        # a page served from an allowed host (e.g. another port) may start a backup
        response = http.post(
            "/api/backup", headers={"Origin": "http://backup.lan:5173", "Sec-Fetch-Site": "cross-site"}
        )
        assert response.status_code == 202, response.text
        poll(http, f"/api/backup/{response.json()['job_id']}", until=finished)
        response = http.post("/api/backup", headers={"Origin": "http://other.lan"})
        assert (response.status_code, response.json()) == (403, CROSS_ORIGIN)
    assert job_count(db) == 1


def test_with_an_api_key(serve: Callable[..., ApiServer], db: psycopg.Connection) -> None:
    server = serve(api_key="s3cret")
    key = {"X-API-Key": "s3cret"}
    with server.client() as http, server.client(headers=key) as keyed:
        # the Host check is off (the key is the protection) but the key is still required
        assert http.get("/api/backup", headers={"Host": "backup.example.com", **key}).status_code == 200
        assert http.get("/api/backup", headers={"Host": "backup.example.com"}).status_code == 401
        assert http.get("/api/health", headers={"Host": "backup.example.com"}).status_code == 200
        # the Origin check still applies, before the key: right, wrong or no key, 403
        for headers in (key, {"X-API-Key": "wrong"}, {}):
            response = http.post("/api/backup", headers={"Origin": EVIL, **headers})
            assert (response.status_code, response.json()) == (403, CROSS_ORIGIN)
        response = http.post("/api/backup", headers={"Host": "backup.example.com", "Origin": EVIL, **key})
        assert response.status_code == 403
        assert job_count(db) == 0
        assert http.post("/api/backup", headers={"Origin": server.base_url}).status_code == 401
        same = {"Host": "backup.example.com", "Origin": "https://backup.example.com", **key}
        response = http.post("/api/backup", headers=same)
        assert response.status_code == 202, response.text
        poll(keyed, f"/api/backup/{response.json()['job_id']}", until=finished)
    assert job_count(db) == 1


# ------------------------------------------------------------------------------------------
# backupd serve


def free_port(address: str = "0.0.0.0") -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def serve_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUPD_") and k != "DATABASE_URL"}
    env.update(
        BACKUPD_DATABASE_URL=database_url,
        BACKUPD_DATA_DIR=str(tmp_path / "data"),
        BACKUPD_BACKUP_DIR=str(tmp_path / "backups"),
    )
    return env


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
@pytest.mark.parametrize("reachable_database", [True, False])
def test_serve_refuses_network_address_without_key(
    host: str, reachable_database: bool, database_url: str, tmp_path: Path
) -> None:
    # an unreachable database shows the refusal comes before the database is touched
    url = database_url if reachable_database else "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=2"
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "backupd.cli", "serve", "--host", host, "--port", str(port)],
        env=serve_env(url, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("backupd: error: ") and "BACKUPD_API_KEY" in lines[0] and host in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert port_is_free(port)


def test_serve_insecure_no_auth_starts_with_a_warning(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backupd.cli",
                "serve",
                "--host",
                "0.0.0.0",
                "--port",
                str(port),
                "--insecure-no-auth",
                "--log-level",
                "warning",
            ],
            env=serve_env(database_url, tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        # still no DNS rebinding: a name that is not allowed is refused
        response = httpx.get(f"http://127.0.0.1:{port}/api/health", headers={"Host": "attacker.example"})
        assert response.status_code == 403
    finally:
        proc.terminate()
        proc.wait(30)
    warnings = [line for line in log.read_text().splitlines() if line.startswith("backupd: warning: ")]
    assert len(warnings) == 1, log.read_text()
    assert "--insecure-no-auth" in warnings[0] and "BACKUPD_API_KEY" in warnings[0]
