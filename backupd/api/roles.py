"""Who may do what (docs/rest-api.md): the one rule table of the API.

Every operation is a (method, path template) pair; `RULES` gives each the smallest role that may use it,
the words of its 403 (`Role viewer may not <action>`) and whether it is recorded in the audit trail.
The middleware (auth.ApiKeyMiddleware), the audit trail (api.audit), the OpenAPI document
(`document_roles`) and the tests all read this table, so they cannot disagree.

- viewer: every GET except archive downloads, event exports and the audit;
- operator: also starting backups and drills, and sending a test notification;
- admin: everything (restores, deletes, downloads, pins, prune, schedule changes, exports, the audit).

A route in the OpenAPI document without a rule needs `admin` (fail closed), and the role matrix test
(tests/api/test_roles.py) fails until it gets one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.routing import Match
from starlette.types import Scope

from .security import SAFE_METHODS


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def may(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Rule:
    method: str
    path: str  # the route's path template, as in the OpenAPI document
    role: Role | None  # None: public, no key needed (GET /api/health)
    action: str  # "Role <role> may not <action>"
    audited: bool  # every request is recorded (state-changing ones, downloads, exports)


def _rule(method: str, path: str, role: Role | None, action: str, *, audited: bool | None = None) -> Rule:
    return Rule(method, path, role, action, method not in SAFE_METHODS if audited is None else audited)


RULES: tuple[Rule, ...] = (
    _rule("GET", "/api/health", None, "check health"),
    _rule("GET", "/api/whoami", Role.VIEWER, "ask who it is"),
    _rule("GET", "/api/status", Role.VIEWER, "read the status"),
    _rule("GET", "/metrics", Role.VIEWER, "read the metrics"),
    _rule("GET", "/api/backup", Role.VIEWER, "list backups"),
    _rule("GET", "/api/backup/{job_id}", Role.VIEWER, "read a backup job"),
    _rule("GET", "/api/backup/restore/{job_id}", Role.VIEWER, "read a restore job"),
    _rule("GET", "/api/schedule", Role.VIEWER, "read the schedule"),
    _rule("GET", "/api/drills", Role.VIEWER, "list drills"),
    _rule("GET", "/api/drills/{drill_id}", Role.VIEWER, "read a drill"),
    _rule("POST", "/api/backup", Role.OPERATOR, "start a backup"),
    _rule("POST", "/api/backup/{job_id}/drill", Role.OPERATOR, "start a drill"),
    _rule("POST", "/api/notify/test", Role.OPERATOR, "send a test notification"),
    _rule("GET", "/api/backup/{job_id}/download", Role.ADMIN, "download an archive", audited=True),
    _rule("GET", "/api/export/events", Role.ADMIN, "export events", audited=True),
    _rule("GET", "/api/audit", Role.ADMIN, "read the audit trail"),
    _rule("POST", "/api/backup/restore", Role.ADMIN, "restore a backup"),
    _rule("POST", "/api/backup/{job_id}/restore", Role.ADMIN, "restore a backup"),
    _rule("DELETE", "/api/backup/{job_id}", Role.ADMIN, "delete a backup"),
    _rule("PATCH", "/api/backup/{job_id}", Role.ADMIN, "pin or unpin a backup"),
    _rule("POST", "/api/backup/prune", Role.ADMIN, "prune backups"),
    _rule("PUT", "/api/schedule", Role.ADMIN, "change the schedule"),
)
RULES_BY_OPERATION: dict[tuple[str, str], Rule] = {(r.method, r.path): r for r in RULES}
# Paths outside /api/ that need a key when keys are configured.
KEYED_PATHS_OUTSIDE_API = frozenset({"/metrics"})


def rule_for(method: str, path: str) -> Rule:
    """The operation's rule; one without a rule needs admin (fail closed) and is audited unless it is a read."""
    method = "GET" if method.upper() == "HEAD" else method.upper()
    rule = RULES_BY_OPERATION.get((method, path))
    if rule is not None:
        return rule
    return _rule(method, path, Role.ADMIN, f"use {method} {path}")


def forbidden_detail(role: Role, rule: Rule) -> str:
    return f"Role {role.value} may not {rule.action}"


@dataclass(frozen=True)
class RouteMatch:
    template: str
    path_params: dict[str, Any]
    rule: Rule | None  # None: a route outside the document without a rule (the page's files)


ROUTE_SCOPE_KEY = "backupd.route"


def leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Routes one by one (newer FastAPI keeps an included router as one route of the app)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        yield from (leaf_routes(contexts()) if callable(contexts) else [route])


def match_route(scope: Scope) -> RouteMatch | None:
    """The route the app's router will send this request to (the first full match, as Starlette does),
    or None when none matches (a 404 or 405 follows); kept in the scope for the other middlewares."""
    if ROUTE_SCOPE_KEY in scope:
        found: RouteMatch | None = scope[ROUTE_SCOPE_KEY]
        return found
    found = None
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in leaf_routes(getattr(router, "routes", ())):
        match, child = route.matches(scope)
        if match == Match.FULL:
            template = str(getattr(route, "path_format", None) or getattr(route, "path", ""))
            rule = RULES_BY_OPERATION.get(("GET" if scope["method"] == "HEAD" else scope["method"], template))
            if rule is None and getattr(route, "include_in_schema", False):
                rule = rule_for(scope["method"], template)
            found = RouteMatch(template, dict(child.get("path_params", {})), rule)
            break
    scope[ROUTE_SCOPE_KEY] = found
    return found


_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def document_roles(openapi: dict[str, Any], *, keyed: bool) -> dict[str, Any]:
    """`x-required-role` and a sentence on every operation (from RULES); with keys, the role 403 too."""
    for path, item in openapi.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _HTTP_METHODS or not isinstance(operation, dict):
                continue
            rule = rule_for(method, path)
            operation["x-required-role"] = rule.role.value if rule.role else None
            if rule.role is None:
                sentence = "Required role: none (no API key needed)."
            else:
                higher = {Role.VIEWER: " (or operator, admin)", Role.OPERATOR: " (or admin)", Role.ADMIN: ""}
                sentence = f"Required role: `{rule.role.value}`{higher[rule.role]}."
            if rule.audited:
                sentence += " Recorded in the audit trail."
            text = operation.get("description", "")
            operation["description"] = f"{text}\n\n{sentence}" if text else sentence
            if keyed and rule.role is not None and rule.role != Role.VIEWER:
                _document_forbidden(operation, rule)
    return openapi


def _document_forbidden(operation: dict[str, Any], rule: Rule) -> None:
    responses = operation.setdefault("responses", {})
    message = f"Role <role> may not {rule.action}"
    entry = responses.get("403")
    if entry is None:
        responses["403"] = {
            "description": message,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        }
        operation["responses"] = dict(sorted(responses.items()))
    elif message not in entry.get("description", ""):
        entry["description"] = f"{entry.get('description', '')} / {message}".strip(" /")
