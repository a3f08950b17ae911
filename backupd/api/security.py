"""Host and Origin checks for /api/* (docs/rest-api.md): other web sites must not drive the service.

Without an API key a browser is the only thing between the database and any page the user opens:

- **DNS rebinding**: a hostile page re-points its own name at 127.0.0.1 and then reads and writes the
  API as "same-origin". Its requests still carry `Host: attacker.example`, so without a key only
  `localhost`, loopback IP literals and `BACKUPD_ALLOWED_HOSTS` are served. `/api/health` is *not*
  exempt: a rebinding page must not read anything (the web page itself, `/` and `/assets`, is served
  to any Host: it holds no data, and every request it makes goes through this check).
- **CSRF**: a page may send a form POST or a no-cors fetch anywhere without reading the answer. A
  state-changing request (any method but GET, HEAD, OPTIONS, TRACE) whose `Origin` is another host or
  port than `Host` is refused, with or without a key (a key kept in a browser could be used this way).
  When a browser sends no Origin, `Sec-Fetch-Site: cross-site` / `same-site` refuses it instead; a
  browser that says `cross-site` is believed even if its Origin looks right (only an Origin in
  `BACKUPD_ALLOWED_HOSTS` overrides it). Clients that send neither header (curl, scripts) pass.

Order: the Host check, then the Origin check, both before the API key (ApiKeyMiddleware sits inside
this middleware), so a foreign page gets 403 whatever key it sends and learns nothing about the key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
CROSS_ORIGIN_DETAIL = "Cross-origin request refused"


class HostPort(NamedTuple):
    host: str  # lowercase, no brackets, no trailing dot; IP literals in canonical form
    port: int | None


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int  # explicit, else the scheme's default


def normalize_host(name: str) -> str:
    """Lowercase, without IPv6 brackets or a trailing dot; IP literals canonical (`0:0::1` → `::1`)."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    name = name.rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def split_host(value: str | None) -> HostPort | None:
    """Parse a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`); None when absent or malformed."""
    if not value:
        return None
    value = value.strip()
    port_text = ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None
            port_text = rest[1:]
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
    elif value.count(":") > 1:
        return None  # an unbracketed IPv6 literal is not a valid Host
    else:
        name, _, port_text = value.partition(":")
    port: int | None = None
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
            return None
        port = int(port_text)
    host = normalize_host(name)
    if not host or any(c in host for c in "/\\@?# \t"):
        return None
    return HostPort(host, port)


def parse_origin(value: str) -> Origin | None:
    """Parse an Origin header (`scheme://host[:port]`); None for `null`, other schemes or anything else."""
    scheme, sep, rest = value.strip().partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        return None
    hostport = split_host(rest)
    if hostport is None:
        return None
    return Origin(scheme, hostport.host, hostport.port if hostport.port is not None else DEFAULT_PORTS[scheme])


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP literal (127.0.0.0/8, ::1, also as ::ffff:127.x.y.z)."""
    host = normalize_host(host)
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def host_allowed(host: HostPort | None, allowed: frozenset[str]) -> bool:
    return host is not None and (is_loopback(host.host) or host.host in allowed)


def same_origin(origin: Origin, host: HostPort) -> bool:
    """Same host and port. A Host without a port matches the Origin scheme's default port: behind a
    TLS-terminating proxy the server cannot know whether the browser used http or https."""
    port = host.port if host.port is not None else DEFAULT_PORTS[origin.scheme]
    return origin.host == host.host and origin.port == port


def cross_origin(
    method: str, host: HostPort | None, origin: str | None, fetch_site: str | None, allowed: frozenset[str]
) -> bool:
    """True when a state-changing request comes from another site's page (see the module docstring)."""
    if method.upper() in SAFE_METHODS:
        return False
    fetch_site = (fetch_site or "").strip().lower()
    if origin is None:
        return fetch_site in ("cross-site", "same-site")
    parsed = parse_origin(origin)
    if parsed is None:  # "null" (sandboxed frames, file:, redirects), other schemes, garbage
        return True
    if parsed.host in allowed:
        return False
    return host is None or not same_origin(parsed, host) or fetch_site == "cross-site"


def is_api_path(path: str) -> bool:
    """The paths with data: /api/* and /metrics (the page itself and its assets hold none)."""
    return path == "/api" or path.startswith("/api/") or path == "/metrics"


class HostOriginMiddleware:
    """403 `{"detail": ...}` for /api/* requests to a foreign Host (no key only) or from a foreign Origin."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = (), check_host: bool = True) -> None:
        self.app = app
        self.allowed = frozenset(normalize_host(h) for h in allowed_hosts if h.strip())
        self.check_host = check_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_api_path(scope.get("path", "")):
            headers: dict[bytes, str] = {}
            for key, value in scope.get("headers", []):
                headers.setdefault(key, value.decode("latin-1"))  # the first of repeated headers
            raw_host = headers.get(b"host")
            host = split_host(raw_host)
            detail = None
            if self.check_host and not host_allowed(host, self.allowed):
                shown = host.host if host is not None else (raw_host or "").strip()
                detail = f"Host not allowed: {shown}"
            elif cross_origin(
                scope.get("method", "GET"), host, headers.get(b"origin"), headers.get(b"sec-fetch-site"), self.allowed
            ):
                detail = CROSS_ORIGIN_DETAIL
            if detail is not None:
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
