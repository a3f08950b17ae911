"""Streaming a multipart upload straight to a file, under a size limit.

FastAPI's UploadFile would spool the whole body to a temporary file before the handler runs,
so an oversized upload could fill the disk before we could answer 413, and every upload would
be written twice. Here the body is parsed as it arrives (python-multipart's push parser) and
the one file field is appended to `dest` in ~1 MiB writes done in a worker thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks  # declared for type checkers only

WRITE_BYTES = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers allowed on top of the file itself


class UploadTooLarge(Exception):
    """The file (or the declared body) exceeds the limit: answer 413."""


class UploadInvalid(Exception):
    """Not a multipart body with a file field: answer 400 with the message."""


def declared_too_large(request: Request, max_bytes: int) -> bool:
    """True when Content-Length alone proves the upload is over the limit (answer before reading)."""
    value = request.headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return False
    return int(value) > max_bytes + MULTIPART_OVERHEAD


MAX_FIELD_BYTES = 64 * 1024  # a plain form field (tables, dry_run, …), never the archive


class _FilePart:
    """python-multipart callbacks collecting the bytes of the first part named `field`, and the
    (small) values of the other fields."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.pending = bytearray()
        self.found = False
        self.size = 0
        self.fields: dict[str, bytearray] = {}
        self._other: str | None = None
        self._in_target = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._disposition = b""

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._in_target = False
        self._other = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if bytes(self._header_field).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == self.field and not self.found:
            self.found = True
            self._in_target = True
        elif name != self.field and name not in self.fields:
            self._other = name
            self.fields[name] = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_target:
            self.pending += data[start:end]
            self.size += end - start
        elif self._other is not None:
            value = self.fields[self._other]
            value += data[start:end]
            if len(value) > MAX_FIELD_BYTES:
                raise UploadInvalid(f"form field '{self._other}' is too long")

    def on_part_end(self) -> None:
        self._in_target = False

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }


async def receive_upload(
    request: Request, dest: Path, *, max_bytes: int, field: str = "file"
) -> tuple[int, dict[str, str]]:
    """Write the `field` file of a multipart/form-data request to `dest`; return its size and the
    values of the other (small) form fields.

    Raises UploadInvalid, UploadTooLarge, or starlette's ClientDisconnect; `dest` may be left
    partly written on error (the caller owns and removes it).
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadInvalid(f"Expected a multipart/form-data upload with a '{field}' file field")
    part = _FilePart(field)
    parser = MultipartParser(params[b"boundary"], part.callbacks())
    out: BinaryIO = await anyio.to_thread.run_sync(open, dest, "wb")
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise UploadInvalid(f"Malformed multipart body: {exc}") from exc
            if part.size > max_bytes:
                raise UploadTooLarge(f"Upload exceeds the limit of {max_bytes} bytes")
            if len(part.pending) >= WRITE_BYTES:
                data = bytes(part.pending)
                part.pending.clear()
                await anyio.to_thread.run_sync(out.write, data)
        try:
            parser.finalize()
        except FormParserError as exc:
            raise UploadInvalid(f"Malformed multipart body: {exc}") from exc
        if not part.found:
            raise UploadInvalid(f"Missing file upload: send multipart/form-data with a '{field}' field")
        if part.pending:
            await anyio.to_thread.run_sync(out.write, bytes(part.pending))
            part.pending.clear()
    finally:
        await anyio.to_thread.run_sync(out.close)
    return part.size, {name: bytes(value).decode("utf-8", "replace") for name, value in part.fields.items()}
