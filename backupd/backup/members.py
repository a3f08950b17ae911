"""The members of one backup's archive, in order, as write_archive consumes them.

One member per part: a read part streams from its spool as the workers fill it (hashed,
line-counted, with progress); a reused part is copied as deflate data from the previous archive.
The manifest comes last, built from those digests once every part was consumed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import ARCHIVE_FORMAT_VERSION, __version__
from ..archive.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestColumn,
    ManifestPart,
    ManifestReuse,
    ManifestTable,
    parts_checksum,
)
from ..archive.writer import MemberData, MemberDigest
from ..db.catalog import Table
from ..db.connection import OUTPUT_SETTINGS
from ..errors import BackupdError
from ..progress import MonotonicProgress
from .keys import split_key
from .parts import Part
from .pipeline import PartSpool
from .query import CHUNK_BYTES
from .reuse import Previous

if TYPE_CHECKING:
    from .engine import Snapshot


def manifest_columns(table: Table) -> list[ManifestColumn]:
    """The table's columns as the manifest records them (what a restore checks the live table against)."""
    return [ManifestColumn.model_validate(c.manifest_entry()) for c in table.columns]


class ArchiveMembers:
    """The archive's members in order, for write_archive: one per part, each read part streamed
    from its spool as the workers fill it (hashed, line-counted, with progress), each reused part
    copied as deflate data from the previous archive; then the manifest, built from those digests
    once every part was consumed. `.manifest` is set when it is yielded."""

    def __init__(
        self,
        snapshot: Snapshot,
        parts: Iterator[tuple[Part, PartSpool]],
        tracker: MonotonicProgress,
        *,
        backup_id: str,
        created_at: datetime,
        previous: Previous | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._parts = parts  # (part, spool) of the read parts, in the snapshot's table order
        self._tracker = tracker
        self._backup_id = backup_id
        self._created_at = created_at
        self._previous = previous
        self._total_estimate = sum(snapshot.estimates.values()) or 1
        self._contents: dict[str, ManifestTable] = {}
        self._reuse = ManifestReuse()
        self.manifest: Manifest | None = None

    def __iter__(self) -> Iterator[tuple[str, MemberData]]:
        done_estimate = 0
        for index, table in enumerate(self._snapshot.tables):
            rows = MemberDigest(count_lines=False)  # the table's rows as one stream
            entries: list[ManifestPart] = []
            size = 0
            planned = self._snapshot.parts[table.oid]
            estimate = self._snapshot.estimates[table.oid]
            for number, part in enumerate(planned):
                within = estimate * number / len(planned)
                self._report(100 * (done_estimate + within) / self._total_estimate, table, index)
                if part.reuse is not None:
                    assert self._previous is not None
                    raw = self._previous.reader.raw_member(part.reuse.name)
                    yield part.name, raw
                    entries.append(part.reuse.model_copy(update={"name": part.name, "reused": True}))
                    size += raw.uncompressed_size
                    self._reuse.parts_reused += 1
                    self._reuse.rows_reused += part.reuse.count
                    continue
                digest = MemberDigest()
                edges = _Edges()
                yield part.name, self._chunks(part, digest, rows, edges)
                entries.append(
                    ManifestPart(
                        name=part.name,
                        first=edges.key(table, first=True),
                        last=edges.key(table, first=False),
                        count=digest.lines,
                        checksum=digest.checksum,
                        reused=False,
                    )
                )
                size += digest.bytes
                self._reuse.parts_read += 1
                self._reuse.rows_read += digest.lines
            done_estimate += estimate
            self._contents[table.key] = self._entry(table, entries, rows, size)
        self.manifest = self._build_manifest()
        self._tracker.report("running", 99, "Writing manifest", len(self._snapshot.tables))
        yield MANIFEST_NAME, iter([self.manifest.to_json_bytes()])

    def _report(self, percent: float, table: Table, index: int) -> None:
        self._tracker.report("running", percent, f"Exporting {table.key}", index)

    def _chunks(self, part: Part, digest: MemberDigest, rows: MemberDigest, edges: _Edges) -> Iterator[bytes]:
        """A read part's bytes from its spool; its row count must equal the lines written."""
        spooled, spool = next(self._parts)
        assert spooled is part
        for chunk in spool.chunks(CHUNK_BYTES):
            digest.update(chunk)
            rows.update(chunk)
            edges.see(chunk)
            yield chunk
        if spool.rows != digest.lines:
            raise BackupdError(f"{part.table.key}: {spool.rows} rows exported but {digest.lines} lines written")

    def _entry(self, table: Table, parts: list[ManifestPart], rows: MemberDigest, size: int) -> ManifestTable:
        reused = any(p.reused for p in parts)
        return ManifestTable(
            count=sum(p.count for p in parts),
            checksum=parts_checksum([p.checksum for p in parts]) if reused else rows.checksum,
            bytes=size,
            columns=manifest_columns(table),
            primary_key=list(table.primary_key),
            sequences=self._snapshot.sequences[table.oid] or None,
            definition=self._snapshot.definitions.get(table.key),
            parts=parts,
            checksum_of="parts" if reused else "rows",
            part_bounds=part_bounds(table, self._snapshot.parts[table.oid]),
            oid=table.oid,
            relfilenode=self._snapshot.relfilenodes.get(table.oid),
        )

    def _build_manifest(self) -> Manifest:
        snapshot = self._snapshot
        return Manifest(
            backup_id=self._backup_id,
            version=ARCHIVE_FORMAT_VERSION,
            created_at=self._created_at,
            app_version=__version__,
            contents=self._contents,
            table_order=[t.key for t in snapshot.tables],
            server_version=snapshot.server_version,
            settings=dict(OUTPUT_SETTINGS),
            types=snapshot.types or None,
            warnings=snapshot.warnings or None,
            origin=snapshot.origin,
            reuse=self._reuse,
            reused_from=self._previous.manifest.backup_id if self._reuse.parts_reused and self._previous else None,
            reuse_note=snapshot.reuse_note,
        )


class _Edges:
    """The first and last line of a part's bytes as they stream past (for its first and last key)."""

    __slots__ = ("first", "head", "last")

    def __init__(self) -> None:
        self.head = bytearray()  # bytes up to the first newline
        self.first: bytes | None = None
        self.last = bytearray()  # bytes after the last newline but one

    def see(self, chunk: bytes) -> None:
        if self.first is None:
            end = chunk.find(b"\n")
            if end < 0:
                self.head += chunk
            else:
                self.first = bytes(self.head) + chunk[:end]
        cut = chunk.rfind(b"\n", 0, len(chunk) - 1)
        if cut < 0:
            if self.last.endswith(b"\n"):
                self.last.clear()
            self.last += chunk
        else:
            self.last[:] = chunk[cut + 1 :]

    def key(self, table: Table, *, first: bool) -> list[Any] | None:
        """The primary key of the first or last row, as a JSON array of its columns' values."""
        line = self.first if first else bytes(self.last).rstrip(b"\n")
        if not line or not table.primary_key:
            return None
        row = json.loads(line)
        return [row[column] for column in table.primary_key]


def part_bounds(table: Table, parts: list[Part]) -> list[int] | list[str] | None:
    """The manifest's part_bounds: the first key of parts 2..n (uuid keys as text, backup.keys)."""
    key = split_key(table)
    lowers = [p.lower for p in parts[1:] if p.lower is not None]
    if key is None or not lowers:
        return None
    if key.is_uuid:
        return [str(key.to_manifest(b)) for b in lowers]
    return lowers
