"""Exceptions users see as one-line messages (CLI) or `detail`/`error_message` (API)."""


class BackupdError(Exception):
    """Base class: the message is shown to the user verbatim."""


class ConfigError(BackupdError):
    pass


class CatalogError(BackupdError):
    """A table of the set is missing or cannot be handled."""


class TableNotFound(CatalogError):
    """A named table does not exist in the database (the API answers 404)."""


class ArchiveError(BackupdError):
    """An archive is malformed, corrupted, unsafe or of an unsupported version."""


class BusyError(BackupdError):
    """Another backup or restore holds the operation lock."""


class RestoreError(BackupdError):
    """A restore was refused or failed; the database is unchanged."""


def one_line(exc: BaseException) -> str:
    """What a user is told about any failure: one line, never a traceback.

    Ours verbatim; an OS error as its reason and file ("No space left on device: /path"); a
    database error as libpq's first line; anything else prefixed by its type, since an
    unexpected message alone ("list index out of range") would not say where it came from.
    """
    if isinstance(exc, BackupdError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        lines = str(exc).strip().splitlines()
        first = lines[0] if lines else ""
        if type(exc).__module__.split(".")[0] in ("psycopg", "psycopg_pool"):
            text = f"database error: {first or type(exc).__name__}"
        else:
            text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return " ".join(text.split()) or type(exc).__name__
