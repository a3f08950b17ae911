"""Serving a stored archive over HTTP with Range support, whatever the store (docs/operations.md).

The bytes come from the store's `iter_range`, called before the response starts: a directory store
opens its file there, so a delete meanwhile (DELETE, retention after a backup) cannot cut a download
short and a file already gone is a 404, never a 500 or a broken body; an object elsewhere is streamed
with ranged GETs. Neither memory nor local disk holds an archive whole.
"""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from ..store import Store

READ_BYTES = 1024 * 1024

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
    """The archive `name` (or the range the request asks for). Raises NotFound when it is gone."""
    wanted = parse_range(request.headers.get("range"), size)
    if wanted == "unsatisfiable":
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    start, end = wanted if isinstance(wanted, tuple) else (0, size)
    body = store.iter_range(name, start, end)  # a directory store's file is opened here (Store.iter_range)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
    }
    if isinstance(wanted, tuple):
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        body, status_code=206 if isinstance(wanted, tuple) else 200, media_type=media_type, headers=headers
    )
