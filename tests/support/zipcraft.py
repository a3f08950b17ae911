"""Hand-built ZIP files for hostile-archive tests: any names, any declared sizes, any bytes."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass
class CraftedMember:
    name: str
    data: bytes  # the uncompressed content
    declared_size: int | None = None  # what the headers claim (default: the truth)
    crc: int | None = None  # what the headers claim (default: the truth)


def craft_zip(members: list[CraftedMember]) -> bytes:
    """A plain (non-Zip64) deflate ZIP whose headers say exactly what the members say."""
    out = bytearray()
    central = bytearray()
    for m in members:
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = comp.compress(m.data) + comp.flush()
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        size = len(m.data) if m.declared_size is None else m.declared_size
        name = m.name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(payload), size, len(name), 0)
        out += name + payload
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(payload),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0o644 << 16,
            offset,
        )
        central += name
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd_offset, 0)
    return bytes(out)
