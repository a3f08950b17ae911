"""The audit middleware (docs/rest-api.md): every audited request leaves one row in backupd.audit_log.

Audited are the operations api.roles.RULES marks so: every state-changing request, archive downloads and
event exports, whatever their answer (a refusal with 401, 403 or 409 too). The row names the key (never the
key itself: its name and role, from auth.ApiKeyMiddleware), the client address, the method and path, the
ids the path named and, for a request that started a job, the job's id from the JSON answer, and the
status answered.

The row is written just before the last part of the answer is sent, so a client that has its answer
finds its row. Only the JSON answers of state-changing requests are kept (at most `CAPTURE_LIMIT` bytes)
to find the job id; downloads and exports pass through untouched. A row that cannot be written costs a
log line (audit.records), never the request.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..audit.records import AuditEntry, AuditRecords
from .auth import identity_of
from .roles import match_route
from .security import SAFE_METHODS

CAPTURE_LIMIT = 64 * 1024
_ID_PARAMS = ("job_id", "drill_id", "backup_id", "id")
_JOB_FIELDS = ("job_id", "drill_id", "id")


def started_job(body: bytes) -> str | None:
    """The `job_id` (or `drill_id`, `id`) of a JSON object answer, if any."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    for field in _JOB_FIELDS:
        if isinstance(value.get(field), str):
            return str(value[field])
    return None


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = match_route(scope)
        if route is None or route.rule is None or not route.rule.audited:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        capture = method not in SAFE_METHODS
        state: dict[str, Any] = {"status": 500, "json": False, "body": bytearray(), "written": False}

        async def write() -> None:
            if state["written"]:
                return
            state["written"] = True
            await anyio.to_thread.run_sync(self._record, scope, state, route)

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = dict(message.get("headers", []))
                state["json"] = headers.get(b"content-type", b"").startswith(b"application/json")
            elif message["type"] == "http.response.body":
                if capture and state["json"] and len(state["body"]) < CAPTURE_LIMIT:
                    state["body"] += message.get("body", b"")
                if not message.get("more_body", False):
                    await write()
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        finally:
            with anyio.CancelScope(shield=True):
                await write()

    @staticmethod
    def _record(scope: Scope, state: dict[str, Any], route: Any) -> None:
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        if services is None:  # not started (or stopped): nothing to write to
            return
        key = identity_of(scope)
        params = route.path_params
        target = next((str(params[name]) for name in _ID_PARAMS if name in params), None)
        status = int(state["status"])
        job = started_job(bytes(state["body"])) if 200 <= status < 300 and state["body"] else None
        client = scope.get("client")
        entry = AuditEntry(
            method=scope["method"],
            path=scope.get("path", ""),
            action=route.rule.action,
            status=status,
            key_name=key.name if key else None,
            role=key.role.value if key else None,
            client=client[0] if client else None,
            target_id=target,
            job_id=job if job != target else None,
        )
        AuditRecords(services.pool).record(entry)
