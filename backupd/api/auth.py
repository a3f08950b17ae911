"""X-API-Key authentication (docs/configuration.md): every /api/* request except /api/health needs the key.

Enforced by an ASGI middleware rather than per-route dependencies so that no /api path, matched
or not, can be reached without the key; `api_key_scheme` only declares the scheme in OpenAPI so
/docs offers an "Authorize" button.
"""

from __future__ import annotations

import hmac

from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = "X-API-Key"
PUBLIC_PATHS = frozenset({"/api/health"})
UNAUTHORIZED_DETAIL = "Invalid or missing API key"

api_key_scheme = APIKeyHeader(name=HEADER, auto_error=False, description="Required when BACKUPD_API_KEY is set")


def key_matches(presented: bytes | None, expected: str) -> bool:
    """Constant-time comparison of the raw header bytes, so timing reveals nothing about the key."""
    if presented is None:
        return False
    return hmac.compare_digest(presented, expected.encode("utf-8"))


def requires_key(path: str) -> bool:
    return (path == "/api" or path.startswith("/api/")) and path.rstrip("/") not in PUBLIC_PATHS


class ApiKeyMiddleware:
    """Answers 401 `{"detail": ...}` to /api/* requests without the right X-API-Key."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.api_key = api_key
        self._header = HEADER.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and requires_key(scope.get("path", "")):
            presented = next((v for k, v in scope.get("headers", []) if k == self._header), None)
            if not key_matches(presented, self.api_key):
                response = JSONResponse(
                    {"detail": UNAUTHORIZED_DETAIL}, status_code=401, headers={"WWW-Authenticate": HEADER}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
