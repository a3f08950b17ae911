"""GET /api/export/events: the events in a time range as streamed JSON lines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from ...export import iter_events, parse_timestamp
from ..deps import Services, get_services
from ..responses import error_doc

router = APIRouter(prefix="/api/export", tags=["export"])
NDJSON = "application/x-ndjson"


def _parse(name: str, value: str | None):  # -> datetime | None
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail=f"Invalid timestamp for '{name}': {value!r} (expected ISO 8601, e.g. 2026-01-31T00:00:00Z)",
        ) from None


async def _stream(first: bytes | None, rest: Iterator[bytes]) -> AsyncIterator[bytes]:
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
    responses={
        200: {"content": {NDJSON: {"schema": {"type": "string"}}},
              "description": "One JSON object per line, in (started_at, id) order, same encoding as the archive"},
        400: error_doc("Invalid timestamp for 'since': ..."),
    },
)
async def export_events(
    since: str | None = Query(None, description="ISO 8601; events with started_at >= since"),
    until: str | None = Query(None, description="ISO 8601; events with started_at < until"),
    services: Services = Depends(get_services),
) -> StreamingResponse:
    since_at, until_at = _parse("since", since), _parse("until", until)
    chunks = iter_events(services.database_url, since_at, until_at)
    # The first chunk is fetched before answering, so a database error is a proper error status
    # rather than a 200 whose body stops short.
    try:
        first = await anyio.to_thread.run_sync(next, chunks, None)
    except BaseException:
        await anyio.to_thread.run_sync(chunks.close)
        raise
    return StreamingResponse(_stream(first, chunks), media_type=NDJSON)
