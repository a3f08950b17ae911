"""The archive writer lays a ZIP out byte for byte as stream-zip's ZIP_64 does.

backupd writes its own ZIP stream because a reused part is copied as deflate data (stream-zip computes
each member's CRC-32 from uncompressed bytes, so it cannot take one as it is). The layout must stay the
well-kept library's: the same headers, extras, data descriptors and central directory, so every reader
that reads stream-zip's archives reads ours.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from datetime import UTC, datetime

import pytest
from stream_zip import ZIP_64, stream_zip

from backupd.archive.writer import RawMember, deflate_lib, zip_stream

WHEN = datetime(2026, 3, 1, 12, 34, 56, tzinfo=UTC)


def members(sizes: list[int]) -> list[tuple[str, list[bytes]]]:
    out = []
    for n, size in enumerate(sizes):
        data = (b'{"id": %d, "body": "' % n) + os.urandom(size // 2).hex().encode()[:size] + b'"}\n'
        out.append((f"table_{n}.jsonl", [data[i : i + 4096] for i in range(0, len(data), 4096)] or [b""]))
    return out


@pytest.mark.parametrize("level", [1, 6])
@pytest.mark.parametrize("sizes", [[0], [10, 100_000], [3_000_000, 1, 70_000]], ids=["empty", "two", "three"])
def test_same_bytes_as_stream_zip(level: int, sizes: list[int]) -> None:
    given = [*members(sizes), ("manifest.json", [b'{"version": "1.1"}'])]
    ours = b"".join(zip_stream(given, modified_at=WHEN, level=level))
    theirs = b"".join(
        stream_zip(
            ((name, WHEN, stat.S_IFREG | 0o644, ZIP_64, iter(chunks)) for name, chunks in given),
            get_compressobj=lambda: deflate_lib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS),
        )
    )
    assert ours == theirs


def test_a_copied_member_is_the_same_as_a_compressed_one() -> None:
    """A reused part (RawMember: its deflate data, CRC-32 and sizes from the previous archive) gives the
    very bytes that compressing its rows again gives."""
    [(name, chunks)] = members([200_000])
    plain = b"".join(chunks)
    compressor = deflate_lib.compressobj(3, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(plain) + compressor.flush()
    raw = RawMember(
        chunks=iter([deflated[:1000], deflated[1000:]]),
        crc32=zlib.crc32(plain),
        compressed_size=len(deflated),
        uncompressed_size=len(plain),
    )
    copied = b"".join(zip_stream([(name, raw)], modified_at=WHEN, level=3))
    compressed = b"".join(zip_stream([(name, iter(chunks))], modified_at=WHEN, level=3))
    assert copied == compressed
    with zipfile.ZipFile(io.BytesIO(copied)) as zf:
        assert zf.read(name) == plain
