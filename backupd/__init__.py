"""backupd: database-native backup and restore for PostgreSQL."""

__version__ = "0.1.0"

ARCHIVE_FORMAT_VERSION = "1.0"

DEFAULT_TABLES = (
    "events",
    "alerts",
    "cameras",
    "zones",
    "prompts",
    "baselines",
    "household_members",
    "settings",
)
