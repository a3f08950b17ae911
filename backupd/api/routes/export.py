"""GET /api/export/events: the events in a time range as streamed JSON lines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from datetime import datetime

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from ...errors import TableNotFound
from ...export import iter_events, parse_timestamp
from ..deps import Services, get_services
from ..responses import error_responses

router = APIRouter(prefix="/api/export", tags=["export"])
NDJSON = "application/x-ndjson"


def timestamp_parameter(name: str, meaning: str) -> dict[str, object]:
    """An optional RFC 3339 date-time query parameter (declared by hand for `allowEmptyValue`).

    Checked by parse_timestamp, not by FastAPI (400 with the reason, never 422): every RFC 3339 date-time
    is accepted, and so are the other ISO 8601 forms datetime.fromisoformat reads (a date alone, no
    offset meaning UTC, a space for T or, from an unencoded '+' in a URL, before the offset). An empty
    value (`?since=`, as an HTML form sends an empty field) means no bound.
    """
    return {
        "name": name,
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "description": f"RFC 3339 date-time (ISO 8601; no offset means UTC): {meaning}; empty or absent: no bound",
        "schema": {"type": "string", "format": "date-time", "examples": ["2026-01-31T00:00:00Z"]},
    }


def _parse(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail=f"Invalid timestamp for '{name}': {value!r} (expected ISO 8601, e.g. 2026-01-31T00:00:00Z)",
        ) from None


async def _stream(first: bytes | None, rest: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Pull chunks in worker threads; always close the COPY, even when the client goes away."""
    try:
        if first is not None:
            yield first
            while (chunk := await anyio.to_thread.run_sync(next, rest, None)) is not None:
                yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(rest.close)


@router.get(
    "/events",
    response_class=StreamingResponse,
    summary="Export events as JSON lines",
    openapi_extra={
        "parameters": [
            timestamp_parameter("since", "events with started_at >= since"),
            timestamp_parameter("until", "events with started_at < until"),
        ]
    },
    responses={
        200: {
            "content": {NDJSON: {"schema": {"type": "string"}}},
            "description": "One JSON object per line, in (started_at, id) order, same encoding as the archive",
        },
        **error_responses(
            {
                400: "Invalid timestamp for '{since|until}': {value} (expected ISO 8601, e.g. 2026-01-31T00:00:00Z)",
                404: "table not found: events (the database has no events table)",
            }
        ),
    },
)
async def export_events(
    since: str | None = Query(None, include_in_schema=False),  # documented by timestamp_parameter
    until: str | None = Query(None, include_in_schema=False),
    services: Services = Depends(get_services),
) -> StreamingResponse:
    since_at, until_at = _parse("since", since), _parse("until", until)
    chunks = iter_events(services.database_url, since_at, until_at)
    # The first chunk is fetched before answering, so a database error is a proper error status
    # rather than a 200 whose body stops short.
    try:
        first = await anyio.to_thread.run_sync(next, chunks, None)
    except TableNotFound as exc:  # a database without the application's events table
        await anyio.to_thread.run_sync(chunks.close)
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except BaseException:
        await anyio.to_thread.run_sync(chunks.close)
        raise
    return StreamingResponse(_stream(first, chunks), media_type=NDJSON)
