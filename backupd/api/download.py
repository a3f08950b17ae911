"""Serving a stored archive over HTTP with Range support, whatever the store (docs/operations.md).

A file on this machine is opened before the response starts and streamed from that open file, so a
delete meanwhile (DELETE, retention after a backup) cannot cut a download short: the open file keeps
its bytes, and a file already gone is a 404, never a 500 or a broken body. An object elsewhere is
streamed with ranged GETs. Neither memory nor local disk holds an archive whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from ..store import NotFound, Store

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
    path = store.local_path(name)
    file: BinaryIO | None = None
    chunks: Callable[[int, int], Iterator[bytes]]
    if path is not None:
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed by the response's background task (or below)
        except FileNotFoundError:
            raise NotFound(f"not found: {store.location(name)}") from None
        size = os.fstat(file.fileno()).st_size
        chunks = _file_chunks(file)
    else:

        def chunks(start: int, end: int) -> Iterator[bytes]:
            yield from store.iter_range(name, start, end)

    wanted = parse_range(request.headers.get("range"), size)
    if wanted == "unsatisfiable":
        if file is not None:
            file.close()
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    start, end = wanted if isinstance(wanted, tuple) else (0, size)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
    }
    if isinstance(wanted, tuple):
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        chunks(start, end),
        status_code=206 if isinstance(wanted, tuple) else 200,
        media_type=media_type,
        headers=headers,
        background=None if file is None else BackgroundTask(file.close),
    )


def _file_chunks(file: BinaryIO) -> Callable[[int, int], Iterator[bytes]]:
    def chunks(start: int, end: int) -> Iterator[bytes]:
        file.seek(start)
        remaining = end - start
        while remaining > 0:
            data = file.read(min(READ_BYTES, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data

    return chunks
