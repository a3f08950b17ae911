"""The archive format (docs/archive-format.md): a ZIP of one JSON-lines member per table and a
manifest (`manifest.py`), written atomically (`writer.py`) and read defensively (`reader.py`:
every byte is hostile until checked)."""

from .manifest import Manifest, ManifestTable, manifest_from_bytes
from .reader import ArchiveReader, ArchiveSource, verify_archive
from .writer import write_archive

__all__ = [
    "ArchiveReader",
    "ArchiveSource",
    "Manifest",
    "ManifestTable",
    "manifest_from_bytes",
    "verify_archive",
    "write_archive",
]
