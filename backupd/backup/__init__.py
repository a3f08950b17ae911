"""The backup engine: one consistent snapshot of a table set, read in parallel parts and streamed
into an archive (`engine.py`; the ordered parallel parts in `pipeline.py`)."""

from .engine import BackupResult, create_backup

__all__ = ["BackupResult", "create_backup"]
