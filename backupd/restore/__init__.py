"""The restore engine (docs/restore-guarantees.md): validate, create what the database lacks
(`recreation.py`), load shadow tables (`shadows.py`, `loader.py`, `decode.py`), give them what the
live tables carry (`carry.py`), compare (`changes.py`), then swap (`swap/`) all or nothing."""

from .engine import RestoreResult, restore_from_backup

__all__ = ["RestoreResult", "restore_from_backup"]
