"""The database layer: connections with pinned output settings, advisory locks, backupd's own
schema and its migrations, the embedded server, and what the catalog says about a table set
(including the table definitions an archive carries). Nothing here knows archives or jobs."""

from .connection import OUTPUT_SETTINGS, check_database, connect, first_line, resolve_database_url

__all__ = ["OUTPUT_SETTINGS", "check_database", "connect", "first_line", "resolve_database_url"]
