"""Writing an archive: members streamed into a ZIP, hashed on the way, visible only once complete.

A module of its own because writing shares nothing with reading but the manifest and the digest:
the backup engine streams each table's lines through a MemberDigest (which the reader reuses to
check them) into `write_archive`, which deflates them (zlib-ng when available) and hands the ZIP
to a file path or a store object (an ArchiveTarget). The ZIP is laid out here (`zip_stream`, in
stream-zip's ZIP_64 layout) so that a part reused from a previous archive can be copied as deflate
data, never inflated or compressed again (docs/change-proportional-backups.md).
"""

from __future__ import annotations

import hashlib
import stat
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Protocol

from .manifest import READ_CHUNK_BYTES

deflate_lib: ModuleType  # zlib_ng.zlib_ng or zlib: the same API (compressobj, decompressobj, crc32, error)
try:  # zlib-ng deflates 3-4x faster than zlib at a similar ratio; the archive is plain deflate either way
    from zlib_ng import zlib_ng as deflate_lib
except ImportError:  # pragma: no cover - platforms without zlib-ng wheels
    deflate_lib = zlib

# Level 3 of zlib-ng: measured on demo events, 6.2x smaller at ~135 MB/s per core (level 2: 5.5x at
# ~170 MB/s; level 6: 7.3x at ~100 MB/s). Stdlib zlib's level 1 is its best speed/size point.
DEFAULT_COMPRESSION_LEVEL = 3 if deflate_lib is not zlib else 1


class MemberDigest:
    """Running SHA-256, byte count and line count of a member's uncompressed bytes (lines only
    when asked: a reader that counts them itself need not pay for it twice)."""

    __slots__ = ("bytes", "count_lines", "lines", "sha256")

    def __init__(self, count_lines: bool = True) -> None:
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self.lines = 0
        self.count_lines = count_lines

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self.sha256.update(chunk)
        self.bytes += len(chunk)
        if self.count_lines:
            self.lines += bytes(chunk).count(b"\n") if isinstance(chunk, memoryview) else chunk.count(b"\n")

    @property
    def checksum(self) -> str:
        return self.sha256.hexdigest()


class ArchiveTarget(Protocol):
    """Where an archive's bytes go (a store object): makes them visible only once complete."""

    def write(self, chunks: Iterable[bytes]) -> int: ...


@dataclass(frozen=True)
class RawMember:
    """A member whose deflate data is copied as it is (a part reused from a previous archive):
    its CRC-32 and sizes are known, so it is written without inflating or compressing a byte."""

    chunks: Iterable[bytes]
    crc32: int
    compressed_size: int
    uncompressed_size: int


MemberData = Iterable[bytes] | RawMember

_LOCAL_HEADER = struct.Struct("<4sHHH4sIIIHH")
_DATA_DESCRIPTOR = struct.Struct("<4sIQQ")
_CENTRAL_HEADER = struct.Struct("<4sBBBBHH4sIIIHHHHHII")
_ZIP64_LOCAL_EXTRA = struct.Struct("<2sHQQ")
_ZIP64_CENTRAL_EXTRA = struct.Struct("<2sHQQQ")
_UNIX_TIME_EXTRA = struct.Struct("<2sH1sl")
_ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_END = struct.Struct("<4sHHHHIIH")
_FLAGS = 0x0008 | 0x0800  # sizes in a data descriptor after the data; UTF-8 names
_DEFLATE = 8
_MODE = stat.S_IFREG | 0o644


def zip_stream(
    members: Iterable[tuple[str, MemberData]],
    *,
    modified_at: datetime,
    level: int = DEFAULT_COMPRESSION_LEVEL,
    chunk_size: int = READ_CHUNK_BYTES,
) -> Iterator[bytes]:
    """A Zip64 ZIP of `members`, streamed: deflate members with data descriptors, laid out exactly as
    stream-zip's ZIP_64 lays them out (same headers, extras and central directory), so archives read
    the same with zipfile, stream-unzip and unzip. stream-zip cannot take a member's deflate data
    as it is (it computes the CRC-32 from the uncompressed bytes), which a reused part needs.
    Output comes in pieces of about `chunk_size` bytes, except that a RawMember's pieces are passed
    on as they were read (after the bytes before them), never copied into another buffer."""
    dos_time = _dos_time(modified_at)
    unix_time = _UNIX_TIME_EXTRA.pack(b"UT", 5, b"\x01", int(modified_at.timestamp()))
    central: list[bytes] = []
    out = bytearray()
    offset = 0
    for name, data in members:
        encoded = name.encode()
        header_offset = offset
        local = _local_header(encoded, dos_time, unix_time)
        out += local
        offset += len(local)
        if isinstance(data, RawMember):
            crc, usize = data.crc32, data.uncompressed_size
            csize = 0
            if out:  # the local header: the copied pieces follow as they are, not copied again
                yield bytes(out)
                out.clear()
            for piece in data.chunks:
                csize += len(piece)
                yield piece
            if csize != data.compressed_size:
                raise ValueError(
                    f"member {name}: copied {csize} bytes of deflate data, expected {data.compressed_size}"
                )
        else:
            crc = usize = csize = 0
            compressor = deflate_lib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
            for piece in data:
                usize += len(piece)
                crc = deflate_lib.crc32(piece, crc)
                packed = compressor.compress(piece)
                csize += len(packed)
                out += packed
                if len(out) >= chunk_size:
                    yield bytes(out)
                    out.clear()
            packed = compressor.flush()
            csize += len(packed)
            out += packed
        offset += csize
        out += _DATA_DESCRIPTOR.pack(b"PK\x07\x08", crc, csize, usize)
        offset += _DATA_DESCRIPTOR.size
        central.append(_central_entry(encoded, crc, csize, usize, header_offset, dos_time, unix_time))
        if len(out) >= chunk_size:
            yield bytes(out)
            out.clear()
    directory_offset = offset
    directory_size = sum(len(entry) for entry in central)
    for entry in central:
        out += entry
    out += _ZIP64_END.pack(
        b"PK\x06\x06", 44, 45, 45, 0, 0, len(central), len(central), directory_size, directory_offset
    )
    out += _ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, directory_offset + directory_size, 1)
    out += _END.pack(b"PK\x05\x06", 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    yield bytes(out)


def _local_header(encoded: bytes, dos_time: bytes, unix_time: bytes) -> bytes:
    """A member's local header as stream-zip's ZIP_64 writes it: sizes in the data descriptor."""
    extra = _ZIP64_LOCAL_EXTRA.pack(b"\x01\x00", 16, 0, 0) + unix_time
    header = _LOCAL_HEADER.pack(
        b"PK\x03\x04", 45, _FLAGS, _DEFLATE, dos_time, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(encoded), len(extra)
    )
    return header + encoded + extra


def _central_entry(
    encoded: bytes, crc: int, csize: int, usize: int, header_offset: int, dos_time: bytes, unix_time: bytes
) -> bytes:
    """A member's central directory entry, with its Zip64 sizes and offset."""
    extra = _ZIP64_CENTRAL_EXTRA.pack(b"\x01\x00", 24, usize, csize, header_offset) + unix_time
    return (
        _CENTRAL_HEADER.pack(
            b"PK\x01\x02",
            45,
            3,
            45,
            0,
            _FLAGS,
            _DEFLATE,
            dos_time,
            crc,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(encoded),
            len(extra),
            0,
            0,
            0,
            _MODE << 16,
            0xFFFFFFFF,
        )
        + encoded
        + extra
    )


def _dos_time(when: datetime) -> bytes:
    return struct.pack(
        "<HH",
        when.second // 2 | when.minute << 5 | when.hour << 11,
        when.day | when.month << 5 | (when.year - 1980) << 9,
    )


def write_archive(
    target: Path | ArchiveTarget,
    members: Iterable[tuple[str, MemberData]],
    *,
    modified_at: datetime,
    level: int = DEFAULT_COMPRESSION_LEVEL,
) -> int:
    """Stream `members` as a ZIP into `target` (a file path or a store object); return its size.

    `members` may be a generator: the manifest is produced last, after the table members were
    consumed and hashed. Either way nothing appears under the final name unless complete. A member
    is either its uncompressed chunks (deflated here) or a RawMember (deflate data copied as is).
    """
    zipped = zip_stream(members, modified_at=modified_at, level=level)
    if isinstance(target, Path):
        from ..store.directory import write_file

        return write_file(target, zipped)
    return target.write(zipped)
