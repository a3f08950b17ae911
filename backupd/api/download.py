"""Serving a stored archive over HTTP with Range support, whatever the store (docs/operations.md).

A file on this machine goes out as Starlette's FileResponse (sendfile, Range handled there); an
object elsewhere is streamed with ranged GETs, so neither memory nor local disk holds it whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from ..store import Store

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end exclusive) of a single-range header; None to send everything; "unsatisfiable"."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # several ranges or a malformed header: RFC 9110 allows ignoring it
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size
    start = int(first)
    end = size if not last else min(size, int(last) + 1)
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end


def archive_response(request: Request, store: Store, name: str, size: int, media_type: str) -> Response:
    path = store.local_path(name)
    if path is not None:
        return FileResponse(path, media_type=media_type, filename=name)
    disposition = f'attachment; filename="{name}"'
    wanted = parse_range(request.headers.get("range"), size)
    if wanted == "unsatisfiable":
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    start, end = wanted if isinstance(wanted, tuple) else (0, size)
    headers = {"Content-Disposition": disposition, "Accept-Ranges": "bytes", "Content-Length": str(end - start)}
    if isinstance(wanted, tuple):
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"

    def body() -> Iterator[bytes]:
        yield from store.iter_range(name, start, end)

    return StreamingResponse(
        body(), status_code=206 if isinstance(wanted, tuple) else 200, media_type=media_type, headers=headers
    )
