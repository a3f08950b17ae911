"""Reading an archive defensively: every byte is hostile until checked.

Names, sizes and the manifest are checked before any data is used, and members are inflated under
a byte budget (the declared size) so a zip bomb cannot exhaust memory or disk; each member's
SHA-256 and line count are checked as its last byte is read. A module of its own because the
reader's checks are the archive format's security boundary: `ArchiveReader` for restores and
drills, `verify_archive` (with `check_lines`) for an offline check of everything.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ..errors import ArchiveError, one_line
from .manifest import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    MEMBER_SUFFIX,
    READ_CHUNK_BYTES,
    Manifest,
    manifest_from_bytes,
)
from .writer import MemberDigest, RawMember, deflate_lib


class ArchiveSource(Protocol):
    """Where an archive is read from (a store object): each open() a new seekable binary file."""

    def open(self) -> BinaryIO: ...


class ArchiveReader:
    """A seekable archive, opened and checked structurally: names, member set, manifest, sizes.

    Member data is only checked as it is read (`member_chunks`), so a caller can stream it
    somewhere (the database, or nowhere for verify) and learn of corruption at the end.
    """

    def __init__(self, source: Path | str | ArchiveSource) -> None:
        self.source = Path(source) if isinstance(source, (str, os.PathLike)) else source
        self._file: BinaryIO | None = None
        self._rows_checksums: dict[str, str] = {}
        try:
            self._file = self._open()
            self._zip = zipfile.ZipFile(self._file)
        except FileNotFoundError as exc:
            raise ArchiveError(f"file not found: {self.source}") from exc
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            if self._file is not None:
                self._file.close()
            raise ArchiveError(f"not a valid ZIP archive: {exc}") from exc
        try:
            self._infos = self._check_names()
            self.manifest = self._read_manifest()
            self._check_members()
        except BaseException:
            self.close()
            raise

    def _open(self) -> BinaryIO:
        if isinstance(self.source, Path):
            return open(self.source, "rb")
        return self.source.open()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        if self._file is not None:
            self._file.close()

    def _check_names(self) -> dict[str, zipfile.ZipInfo]:
        infos: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            name = info.filename
            if info.is_dir() or name.startswith("/") or "\\" in name or "/" in name or ".." in name or "\x00" in name:
                raise ArchiveError(f"unsafe member name in archive: {name!r}")
            if name in infos:
                raise ArchiveError(f"duplicate member in archive: {name}")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ArchiveError(f"unsupported compression method {info.compress_type} for member {name}")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"encrypted member in archive: {name}")
            infos[name] = info
        if MANIFEST_NAME not in infos:
            raise ArchiveError("archive has no manifest.json")
        return infos

    def _read_manifest(self) -> Manifest:
        info = self._infos[MANIFEST_NAME]
        if info.file_size > MAX_MANIFEST_BYTES:
            raise ArchiveError("manifest.json is too large")
        try:
            with self._zip.open(info) as member:
                raw = member.read(MAX_MANIFEST_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise ArchiveError(f"manifest.json is unreadable: {exc}") from exc
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ArchiveError("manifest.json inflates beyond its declared size (possible zip bomb)")
        return manifest_from_bytes(raw)

    def _members_of(self, key: str) -> list[str]:
        """A table's members in order: its parts (1.1) or the one `<table>.jsonl`."""
        parts = self.manifest.contents[key].parts
        return [key + MEMBER_SUFFIX] if parts is None else [p.name for p in parts]

    def _check_members(self) -> None:
        claimed = [name for key in self.manifest.contents for name in self._members_of(key)]
        expected = set(claimed)
        if len(expected) != len(claimed):
            twice = sorted(n for n in expected if claimed.count(n) > 1)[0]
            raise ArchiveError(f"invalid manifest: member {twice} belongs to two tables")
        present = set(self._infos) - {MANIFEST_NAME}
        missing = sorted(expected - present)
        if missing:
            raise ArchiveError(f"archive is missing member {missing[0]} listed in the manifest")
        unexpected = sorted(present - expected)
        if unexpected:
            raise ArchiveError(f"unexpected member in archive: {unexpected[0]}")
        for key, entry in self.manifest.contents.items():
            size = self.declared_bytes(key)
            if entry.bytes is not None and size != entry.bytes:
                raise ArchiveError(
                    f"size of {key} in the ZIP directory ({size}) differs from the manifest ({entry.bytes})"
                )

    @property
    def tables(self) -> list[str]:
        """Table keys in restore order: the manifest's table_order when present, else manifest order."""
        order = self.manifest.table_order or list(self.manifest.contents)
        return [key for key in order if key in self.manifest.contents]

    def declared_bytes(self, key: str) -> int:
        return sum(self._infos[name].file_size for name in self._members_of(key))

    def total_declared_bytes(self) -> int:
        return sum(self.declared_bytes(key) for key in self.manifest.contents)

    def member_chunks(self, key: str, chunk_size: int = READ_CHUNK_BYTES, count_lines: bool = True) -> Iterator[bytes]:
        """Yield a member's uncompressed bytes; at the end check size, line count and SHA-256
        (the line count only if `count_lines`: else the caller must check it).

        Raises ArchiveError (naming the table) on corruption, and stops as soon as the member
        inflates past its declared size rather than inflating a bomb to the end.
        """
        entry = self.manifest.contents[key]
        # (member, its checksum, its row count): the table's one member, or each of its parts (1.1)
        # (a table of one part read whole is checked as in 1.0: by the table's own checksum and count)
        whole = entry.parts is None or (len(entry.parts) == 1 and entry.checksum_of != "parts")
        pieces = [(key + MEMBER_SUFFIX, entry.checksum, entry.count)] if whole else []
        pieces += [] if whole else [(p.name, p.checksum, p.count) for p in entry.parts or []]
        left = entry.bytes  # the whole table's budget, when the manifest states it
        table = MemberDigest(False)  # the rows as one stream (what `checksum` is of, unless of parts)
        lines = 0
        for name, checksum, count in pieces:
            info = self._infos[name]
            budget = info.file_size if left is None else min(left, info.file_size)
            digest = MemberDigest(count_lines)
            last = b""
            try:
                for chunk in self._inflate(info, budget, chunk_size):
                    digest.update(chunk)
                    table.update(chunk)
                    last = chunk
                    yield chunk
            except (zlib.error, deflate_lib.error, EOFError) as exc:
                raise ArchiveError(f"member {info.filename} is corrupted: {exc}") from exc
            except OSError as exc:  # the disk or the store failed, not the archive (issue 24)
                raise ArchiveError(f"member {info.filename} could not be read: {one_line(exc)}") from exc
            if digest.bytes != budget:
                raise ArchiveError(f"member {info.filename} is truncated: {digest.bytes} of {budget} bytes")
            if digest.bytes and not last.endswith(b"\n"):
                raise ArchiveError(f"member {info.filename} does not end with a newline")
            if digest.checksum != checksum:
                what = key if len(pieces) == 1 else name
                raise ArchiveError(f"Checksum mismatch for {what}: expected {checksum}, got {digest.checksum}")
            if count_lines and digest.lines != count:
                raise ArchiveError(f"Row count mismatch for {key}: expected {count}, got {digest.lines} in {name}")
            left = None if left is None else left - digest.bytes
            lines += digest.lines
        if count_lines and lines != entry.count:
            raise ArchiveError(f"Row count mismatch for {key}: expected {entry.count}, got {lines}")
        if entry.parts is not None and entry.checksum_of != "parts" and table.checksum != entry.checksum:
            raise ArchiveError(f"Checksum mismatch for {key}: expected {entry.checksum}, got {table.checksum}")
        self._rows_checksums[key] = table.checksum

    def rows_checksum(self, key: str) -> str:
        """SHA-256 of the table's rows as one stream (what a backup that reads every row records as
        its checksum): the manifest's, unless it is a checksum of parts; then the members are read."""
        entry = self.manifest.contents[key]
        if entry.checksum_of != "parts":
            return entry.checksum
        if key not in self._rows_checksums:
            for _ in self.member_chunks(key):
                pass
        return self._rows_checksums[key]

    def raw_member(self, name: str, chunk_size: int = READ_CHUNK_BYTES) -> RawMember:
        """A member's deflate data as it is stored, to copy into another archive (a reused part),
        read with ranged reads of the source; nothing is inflated, so its CRC-32 and SHA-256 are
        checked where the copy is read (restore, verify, drill)."""
        info = self._infos[name]
        if info.compress_type != zipfile.ZIP_DEFLATED:
            raise ArchiveError(f"member {name} is not deflated")

        def chunks() -> Iterator[bytes]:
            with self._open() as raw:
                start = self._data_offset(raw, info)
                raw.seek(start)
                remaining = info.compress_size
                while remaining > 0:
                    block = raw.read(min(chunk_size, remaining))
                    if not block:
                        raise ArchiveError(f"member {name} is truncated")
                    remaining -= len(block)
                    yield block

        return RawMember(chunks(), info.CRC, info.compress_size, info.file_size)

    @staticmethod
    def _data_offset(raw: BinaryIO, info: zipfile.ZipInfo) -> int:
        raw.seek(info.header_offset)
        header = raw.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise ArchiveError(f"member {info.filename} is corrupted: bad local header")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        return int(info.header_offset + 30 + name_len + extra_len)

    def _inflate(self, info: zipfile.ZipInfo, budget: int, chunk_size: int) -> Iterator[bytes]:
        """A member's bytes, inflated with zlib-ng (about twice zlib's speed) under a byte budget.

        zipfile has no way to plug in another inflater, so the member's data is located from its
        local header and read here; the CRC-32 is checked at the end, as zipfile would.
        """
        with self._open() as raw:  # a file of its own: members are read by several threads at once
            raw.seek(self._data_offset(raw, info))
            inflater = (
                deflate_lib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED else None
            )
            remaining = info.compress_size
            produced = 0
            crc = 0
            while remaining > 0 or (inflater is not None and inflater.unconsumed_tail):
                if inflater is not None and inflater.unconsumed_tail:
                    data = inflater.decompress(inflater.unconsumed_tail, chunk_size)
                else:
                    block = raw.read(min(chunk_size, remaining))
                    if not block:
                        raise ArchiveError(f"member {info.filename} is truncated")
                    remaining -= len(block)
                    data = block if inflater is None else inflater.decompress(block, chunk_size)
                if not data:
                    continue
                produced += len(data)
                if produced > budget:
                    raise ArchiveError(
                        f"member {info.filename} inflates beyond its declared size of {budget} bytes"
                        " (possible zip bomb)"
                    )
                crc = deflate_lib.crc32(data, crc)
                yield data
            if inflater is not None and not inflater.eof:
                raise ArchiveError(f"member {info.filename} is corrupted: incomplete deflate stream")
            if crc != info.CRC:
                raise ArchiveError(f"member {info.filename} is corrupted: bad CRC-32")


def check_lines(key: str, chunks: Iterable[bytes], columns: list[str] | None) -> Iterator[bytes]:
    """Pass chunks through while checking every line is a JSON object (with exactly `columns` as keys)."""
    expected = set(columns) if columns is not None else None
    lineno = 0
    tail = b""
    for chunk in chunks:
        pieces = (tail + chunk).split(b"\n")
        tail = pieces.pop()
        for line in pieces:
            lineno += 1
            _check_line(key, lineno, line, expected)
        yield chunk
    if tail:
        _check_line(key, lineno + 1, tail, expected)


def _check_line(key: str, lineno: int, line: bytes, expected: set[str] | None) -> None:
    try:
        obj: Any = json.loads(line)
    except ValueError as exc:
        raise ArchiveError(f"{key} line {lineno} is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ArchiveError(f"{key} line {lineno} is not a JSON object")
    if expected is not None and obj.keys() != expected:
        extra = sorted(obj.keys() - expected)
        missing = sorted(expected - obj.keys())
        detail = f"unexpected key {extra[0]!r}" if extra else f"missing key {missing[0]!r}"
        raise ArchiveError(f"{key} line {lineno} does not match the manifest's columns: {detail}")


def verify_archive(
    path: Path | str | ArchiveSource, progress: Callable[[str, int, int], None] | None = None
) -> Manifest:
    """Check an archive completely, offline. Returns its manifest; raises ArchiveError with the reason."""
    with ArchiveReader(path) as reader:
        total = reader.total_declared_bytes()
        done = 0
        for key in reader.tables:
            entry = reader.manifest.contents[key]
            columns = [c.name for c in entry.columns] if entry.columns is not None else None
            for chunk in check_lines(key, reader.member_chunks(key), columns):
                done += len(chunk)
                if progress is not None:
                    progress(key, done, total)
        return reader.manifest
