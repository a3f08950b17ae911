"""backupd: database-native backup and restore for PostgreSQL."""

__version__ = "0.1.0"

# The version new archives are written in; readers accept every version in READABLE_FORMAT_VERSIONS.
# 1.1 adds each table's definition, the source's types and the backup's warnings (docs/archive-format.md).
ARCHIVE_FORMAT_VERSION = "1.1"
READABLE_FORMAT_VERSIONS = ("1.0", "1.1")

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
