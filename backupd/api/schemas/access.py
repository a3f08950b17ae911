"""Keys, roles and the audit trail (docs/rest-api.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ..roles import Role
from .base import ApiModel

# =============================================================================
# Keys, roles and the audit trail (docs/rest-api.md)
# =============================================================================


class WhoAmIResponse(ApiModel):
    """GET /api/whoami: the presented key's name and role (never the key)."""

    name: str | None = Field(..., description="The key's name; null when no keys are configured")
    role: Role = Field(..., description="The key's role; admin when no keys are configured")
    keys_configured: bool = Field(..., description="False: the API needs no key (it answers loopback hosts only)")


class AuditEntryResponse(ApiModel):
    """One audited request or CLI command."""

    id: int = Field(..., description="Increasing; pass the last one as `before` for the next page")
    at: datetime = Field(..., description="When it was answered")
    key_name: str | None = Field(..., description="The key's name (CLI: the OS user); null without a valid key")
    role: Role | None = Field(..., description="The key's role; null without a valid key and for the CLI")
    source: str = Field(..., description="api or cli")
    client: str | None = Field(..., description="The client's address (CLI: the host name)")
    method: str = Field(..., description="HTTP method, or CLI")
    path: str = Field(..., description="The request path, or the CLI command")
    action: str = Field(..., description="What was asked, in words")
    target_id: str | None = Field(..., description="The backup, job or drill id the request named")
    job_id: str | None = Field(..., description="The job the request started")
    status: int = Field(..., description="The HTTP status answered (CLI: 0 done, 1 failed)")


class AuditListResponse(ApiModel):
    entries: list[AuditEntryResponse] = Field(..., description="Newest first")
    next_before: int | None = Field(..., description="`before` of the next (older) page; null on the last page")
