"""The archive's manifest and names (docs/archive-format.md, versions 1.0 and 1.1).

An archive is a ZIP of one `<table>.jsonl` member per table plus `manifest.json` (written last).
A module of its own because the writer, the reader and the HTTP upload check all need the manifest
models and the member names without needing each other; `manifest_from_bytes` is where untrusted
manifest bytes are validated, table names included (a key is never a path).
"""

from __future__ import annotations

import json
import re
from datetime import datetime

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


class ManifestTable(BaseModel):
    """One table's entry in `contents`. `count` and `checksum` are the API design's; the rest are backupd's extras."""

    count: int = Field(ge=0)
    checksum: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int | None = Field(default=None, ge=0)
    columns: list[ManifestColumn] | None = None
    primary_key: list[str] | None = None
    sequences: dict[str, int | None] | None = None
    definition: TableDefinition | None = None  # 1.1: what a restore into an empty database creates


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

    def to_json_bytes(self) -> bytes:
        return (self.model_dump_json(indent=2, exclude_none=True, by_alias=True) + "\n").encode()


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
    for key in manifest.contents:
        if not _SAFE_KEY.match(key) or ".." in key:
            raise ArchiveError(f"invalid manifest: unsafe table name {key!r}")
    return manifest
