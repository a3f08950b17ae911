"""Exceptions users see as one-line messages (CLI) or `detail`/`error_message` (API)."""


class BackupdError(Exception):
    """Base class: the message is shown to the user verbatim."""


class ConfigError(BackupdError):
    pass


class CatalogError(BackupdError):
    """A table of the set is missing or cannot be handled."""


class ArchiveError(BackupdError):
    """An archive is malformed, corrupted, unsafe or of an unsupported version."""


class BusyError(BackupdError):
    """Another backup or restore holds the operation lock."""


class RestoreError(BackupdError):
    """A restore was refused or failed; the database is unchanged."""
