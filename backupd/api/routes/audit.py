"""GET /api/whoami (any key) and GET /api/audit (admin): who is asking, and what was done (docs/rest-api.md)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, Query, Request

from ...audit.records import AuditRecords
from ..auth import identity_of
from ..deps import Services, get_services
from ..roles import Role
from ..schemas import AuditEntryResponse, AuditListResponse, WhoAmIResponse

router = APIRouter(prefix="/api", tags=["access"])
MAX_PAGE = 500


@router.get("/whoami", response_model=WhoAmIResponse, summary="The presented key's name and role")
def whoami(request: Request) -> WhoAmIResponse:
    key = identity_of(request.scope)
    keys_configured = bool(getattr(request.app.state, "keyring", None))
    if key is None:  # no keys configured: whoever reaches the API (loopback hosts only) may do everything
        return WhoAmIResponse(name=None, role=Role.ADMIN, keys_configured=keys_configured)
    return WhoAmIResponse(name=key.name, role=key.role, keys_configured=keys_configured)


@router.get("/audit", response_model=AuditListResponse, summary="The audit trail, newest first")
async def list_audit(
    limit: int = Query(50, ge=1, le=MAX_PAGE, description="Entries per page"),
    before: int | None = Query(None, ge=1, le=2**63 - 1, description="Only entries with a smaller id (paging)"),
    services: Services = Depends(get_services),
) -> AuditListResponse:
    rows = await anyio.to_thread.run_sync(AuditRecords(services.pool).page, limit + 1, before)
    entries = [AuditEntryResponse.model_validate(row) for row in rows[:limit]]
    next_before = entries[-1].id if len(rows) > limit else None
    return AuditListResponse(entries=entries, next_before=next_before)
