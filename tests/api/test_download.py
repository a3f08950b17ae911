"""Downloading an archive that is deleted meanwhile (DELETE, retention after a backup): the download
that has begun completes from its open file, and one that has not is a 404, never a 500."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from starlette.requests import Request

from backupd.api.download import archive_response
from backupd.store import NotFound
from backupd.store.directory import DirectoryStore


def _request(range_header: str | None = None) -> Request:
    headers = [] if range_header is None else [(b"range", range_header.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


async def _body(response: object) -> bytes:
    chunks = [c async for c in response.body_iterator]  # type: ignore[attr-defined]
    if response.background is not None:  # type: ignore[attr-defined]
        await response.background()  # type: ignore[attr-defined]
    return b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)


@pytest.mark.parametrize("range_header", [None, "bytes=1000-"])
def test_a_download_begun_survives_the_file_being_deleted(tmp_path: Path, range_header: str | None) -> None:
    store = DirectoryStore(tmp_path)
    content = os.urandom(3 * 1024 * 1024 + 17)  # several reads of the open file
    (tmp_path / "a.zip").write_bytes(content)
    response = archive_response(_request(range_header), store, "a.zip", len(content), "application/zip")
    (tmp_path / "a.zip").unlink()  # what DELETE or retention does while the response is on its way
    expected = content if range_header is None else content[1000:]
    assert response.status_code == (200 if range_header is None else 206)
    assert response.headers["content-length"] == str(len(expected))
    assert asyncio.run(_body(response)) == expected


def test_a_download_of_a_file_already_gone_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        archive_response(_request(), DirectoryStore(tmp_path), "gone.zip", 10, "application/zip")
