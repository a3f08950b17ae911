"""The archive's manifest and names (docs/archive-format.md, versions 1.0 and 1.1).

An archive is a ZIP of one `<table>.jsonl` member per table (1.1: or one `<table>.<6 digits>.jsonl` per
part of a table split by primary-key range) plus `manifest.json` (written last).
A module of its own because the writer, the reader and the HTTP upload check all need the manifest
models and the member names without needing each other; `manifest_from_bytes` is where untrusted
manifest bytes are validated, table names included (a key is never a path).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import READABLE_FORMAT_VERSIONS
from ..db.definitions import TableDefinition, TypeDefinition
from ..errors import ArchiveError

MANIFEST_NAME = "manifest.json"
MEMBER_SUFFIX = ".jsonl"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024

# A table key as it may appear in a manifest: "events" or "schema.table"; never a path.
_SAFE_KEY = re.compile(r"^[^./\\\x00][^/\\\x00]*$")


class ManifestColumn(BaseModel):
    name: str
    type: str
    encoding: str | None = None  # "text": a json/jsonb value carried as its exact text in a JSON string
    generated: bool | None = None  # true for stored generated columns (exported, never inserted)
    # true: values with lower bounds other than 1 are carried as their PostgreSQL text in a JSON string
    array_text: bool | None = None


class ManifestPart(BaseModel):
    """1.1: one part of a table, a member of its own (docs/change-proportional-backups.md)."""

    name: str
    first: list[Any] | None = None  # the part's first and last primary key (null: no rows, or no key)
    last: list[Any] | None = None
    count: int = Field(ge=0)
    checksum: str = Field(pattern=r"^[0-9a-f]{64}$")
    reused: bool = False  # copied from the previous backup, proved unchanged


class ManifestReuse(BaseModel):
    """1.1: how much of the backup was copied from the previous one and how much was read."""

    parts_reused: int = 0
    rows_reused: int = 0
    parts_read: int = 0
    rows_read: int = 0


class ManifestOrigin(BaseModel):
    """1.1: where and when the rows were read, as the next backup needs it to prove a part unchanged
    (docs/change-proportional-backups.md). Null identifiers: not readable with the backup's role."""

    system_identifier: str | None = None  # pg_control_system(): the cluster
    timeline: int | None = None  # pg_control_checkpoint(): a point-in-time recovery starts a new one
    database_oid: int
    snapshot: str  # pg_current_snapshot() of the backup: xmin:xmax:xip
    snapshot_xmin: int  # its xmin as a 64-bit xid (epoch included)


class ManifestTable(BaseModel):
    """One table's entry in `contents`. `count` and `checksum` are the API design's; the rest are backupd's extras."""

    count: int = Field(ge=0)
    checksum: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int | None = Field(default=None, ge=0)
    columns: list[ManifestColumn] | None = None
    primary_key: list[str] | None = None
    sequences: dict[str, int | None] | None = None
    definition: TableDefinition | None = None  # 1.1: what a restore into an empty database creates
    # 1.1, change-proportional backups: the members, in key order (absent: one member `<table>.jsonl`)
    parts: list[ManifestPart] | None = None
    # "rows" (or absent): `checksum` is the SHA-256 of all the table's rows as one stream;
    # "parts": some parts were reused, and `checksum` is the SHA-256 of the parts' checksums (hex, in order)
    checksum_of: Literal["rows", "parts"] | None = None
    # first key of parts 2..n (integer keys; uuid keys as text): what part i read
    part_bounds: list[int] | list[str] | None = None
    oid: int | None = None  # the table's pg_class oid and relfilenode when it was read
    relfilenode: int | None = None


class Manifest(BaseModel):
    """The API design's BackupManifest plus optional extras; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    backup_id: str
    version: str
    created_at: datetime
    app_version: str | None = None
    contents: dict[str, ManifestTable] = Field(default_factory=dict)
    table_order: list[str] | None = None
    server_version: str | None = None
    settings: dict[str, str] | None = None
    types: list[TypeDefinition] | None = None  # 1.1: enum and domain types the tables' columns use
    warnings: list[str] | None = None  # 1.1: e.g. a table referencing one outside the set
    origin: ManifestOrigin | None = None  # 1.1: what the next backup checks before reusing a part
    reuse: ManifestReuse | None = None  # 1.1: parts and rows reused from the previous backup, and read
    reused_from: str | None = None  # 1.1: the backup id the reused parts were copied from
    reuse_note: str | None = None  # 1.1: why nothing could be reused, when a previous backup was there

    def to_json_bytes(self) -> bytes:
        return (self.model_dump_json(indent=2, exclude_none=True, by_alias=True) + "\n").encode()


def part_names(key: str, count: int) -> list[str]:
    """The members of a table of `count` parts: `<table>.jsonl` alone, else `<table>.000001.jsonl`, …"""
    if count <= 1:
        return [key + MEMBER_SUFFIX]
    return [f"{key}.{number:06d}{MEMBER_SUFFIX}" for number in range(1, count + 1)]


def parts_checksum(checksums: list[str]) -> str:
    """A table's checksum when some of its parts were reused: SHA-256 of the parts' hex checksums."""
    return hashlib.sha256("".join(checksums).encode()).hexdigest()


def manifest_from_bytes(raw: bytes) -> Manifest:
    """Parse and validate manifest bytes; ArchiveError with a one-line reason otherwise."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArchiveError(f"manifest.json is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ArchiveError("manifest.json is not a JSON object")
    version = data.get("version")
    if version not in READABLE_FORMAT_VERSIONS:
        expected = " or ".join(READABLE_FORMAT_VERSIONS)
        raise ArchiveError(f"Unsupported backup version: {version}. Expected: {expected}")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ArchiveError(f"invalid manifest: {where}: {first['msg']}") from exc
    for key, entry in manifest.contents.items():
        if not _SAFE_KEY.match(key) or ".." in key:
            raise ArchiveError(f"invalid manifest: unsafe table name {key!r}")
        if entry.parts is not None:
            if [p.name for p in entry.parts] != part_names(key, len(entry.parts)):
                raise ArchiveError(f"invalid manifest: the parts of {key} are not named {key}.000001.jsonl, …")
            if entry.checksum_of == "parts" and entry.checksum != parts_checksum([p.checksum for p in entry.parts]):
                raise ArchiveError(f"invalid manifest: the checksum of {key} is not that of its parts")
        elif entry.checksum_of == "parts":
            raise ArchiveError(f"invalid manifest: {key} has a checksum of parts but no parts")
    return manifest
