"""Request bodies read by hand, so that every bad body is a 400 with the reason (docs/rest-api.md/§9),
not FastAPI's 422: PATCH /api/backup/{job_id} and PUT /api/schedule."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request, status


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="The body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="The body must be a JSON object")
    return body


def request_body(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    """openapi_extra documenting a JSON body that the handler reads itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}}
