"""X-API-Key authentication and roles (docs/rest-api.md).

With keys configured (BACKUPD_API_KEYS, BACKUPD_API_KEY: api.keys), every /api/* request except
/api/health, and GET /metrics, needs a valid key (401 otherwise), and the key's role must reach the
operation's role in api.roles.RULES (403 `Role <role> may not <action>` otherwise).

Enforced by an ASGI middleware rather than per-route dependencies so that no /api path, matched
or not, can be reached without the key; `api_key_scheme` only declares the scheme in OpenAPI so
/docs offers an "Authorize" button. The key that was presented is put in the scope (`IDENTITY_KEY`,
its name and role only) for the audit trail and GET /api/whoami.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Receive, Scope, Send

from .keys import ApiKey, Keyring
from .roles import KEYED_PATHS_OUTSIDE_API, forbidden_detail, match_route

HEADER = "X-API-Key"
PUBLIC_PATHS = frozenset({"/api/health"})
UNAUTHORIZED_DETAIL = "Invalid or missing API key"
IDENTITY_KEY = "backupd.identity"  # the scope's ApiKey of the request, when a valid key was sent

api_key_scheme = APIKeyHeader(
    name=HEADER, auto_error=False, description="Required when BACKUPD_API_KEYS or BACKUPD_API_KEY is set"
)


def requires_key(path: str) -> bool:
    if path in KEYED_PATHS_OUTSIDE_API:
        return True
    return (path == "/api" or path.startswith("/api/")) and path.rstrip("/") not in PUBLIC_PATHS


def identity_of(scope: Scope) -> ApiKey | None:
    identity: ApiKey | None = scope.get(IDENTITY_KEY)
    return identity


class ApiKeyMiddleware:
    """401 `{"detail": ...}` without a valid X-API-Key, 403 when the key's role is too small."""

    def __init__(self, app: ASGIApp, keyring: Keyring) -> None:
        self.app = app
        self.keyring = keyring
        self._header = HEADER.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and requires_key(scope.get("path", "")):
            presented = next((v for k, v in scope.get("headers", []) if k == self._header), None)
            key = self.keyring.identify(presented)
            if key is None:
                response = JSONResponse(
                    {"detail": UNAUTHORIZED_DETAIL}, status_code=401, headers={"WWW-Authenticate": HEADER}
                )
                await response(scope, receive, send)
                return
            scope[IDENTITY_KEY] = key
            route = match_route(scope)
            rule = route.rule if route is not None else None
            if rule is not None and rule.role is not None and not key.role.may(rule.role):
                await JSONResponse({"detail": forbidden_detail(key.role, rule)}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
