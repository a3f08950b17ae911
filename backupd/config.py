"""Settings from the environment (docs/configuration.md); CLI flags override by constructing Settings(**overrides)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import platformdirs
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from . import DEFAULT_TABLES

if TYPE_CHECKING:
    from .age import AgeKeys
    from .store import Store


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("backupd", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKUPD_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("BACKUPD_DATABASE_URL", "DATABASE_URL", "database_url")
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    backup_dir: Path | None = None
    tables: Annotated[tuple[str, ...], NoDecode] = DEFAULT_TABLES
    api_key: str | None = None
    api_keys: str | None = None  # `name:role:key,...` (docs/configuration.md); parsed by api.keys.keyring_from
    max_upload_bytes: int = 10 * 1024**3
    store: str | None = None  # a directory, file:///path or s3://bucket/prefix (docs/operations.md)
    s3_endpoint: str | None = None
    encrypt_to: str | None = None  # comma-separated age recipients (docs/operations.md)
    age_identity_file: Path | None = None
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    # Automatic backups, retention and drills (docs/operations.md): initial values; PUT /api/schedule wins.
    schedule: str = "0 2 * * *"  # five-field cron expression, or "off"
    timezone: str = "UTC"  # IANA zone of the schedule and of the retention buckets
    keep_last: int = Field(default=7, ge=0)
    keep_daily: int = Field(default=7, ge=0)
    keep_weekly: int = Field(default=4, ge=0)
    keep_monthly: int = Field(default=6, ge=0)
    drill_database_url: str | None = None
    drill_schedule: str = "off"
    # Notifications (docs/operations.md). URLs carry secrets: kept out of repr (and so of logs).
    notify: str | None = Field(default=None, repr=False)  # comma-separated Apprise URLs
    stale_after: str = "36h"  # no completed backup for this long notifies once ('off' never)
    ping_url: str | None = Field(default=None, repr=False)  # GET after each scheduled backup, `…/fail` if it failed

    @field_validator("notify", "ping_url", mode="before")
    @classmethod
    def _empty_notify_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("drill_database_url", mode="before")
    @classmethod
    def _empty_drill_url_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("tables", mode="before")
    @classmethod
    def _split_tables(cls, value: object) -> object:
        if isinstance(value, str):
            names = tuple(part.strip() for part in value.split(",") if part.strip())
            return names or DEFAULT_TABLES
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_allowed_hosts(cls, value: object) -> object:
        """Comma-separated host names (no ports) the API also answers to (docs/rest-api.md), lowercased."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple, set, frozenset)):
            return tuple(str(part).strip().lower() for part in value if str(part).strip())
        return value

    @field_validator(
        "database_url", "api_key", "api_keys", "store", "s3_endpoint", "encrypt_to", "age_identity_file", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def archive_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def store_spec(self) -> str:
        """BACKUPD_STORE, else the backup directory."""
        return self.store or str(self.archive_dir)

    def age_keys(self) -> AgeKeys:
        from .age import AgeKeys, parse_recipients

        recipients = parse_recipients(self.encrypt_to) if self.encrypt_to else ()
        return AgeKeys(recipients, self.age_identity_file.expanduser() if self.age_identity_file else None)

    def open_store(self) -> Store:
        from .store import open_store

        return open_store(self.store_spec, s3_endpoint=self.s3_endpoint, keys=self.age_keys())

    @property
    def spool_dir(self) -> Path:
        """Local scratch space of a backup (bounded, see backup.SPOOL_LIMIT), whatever the store."""
        return self.data_dir / "tmp"

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "pg"
