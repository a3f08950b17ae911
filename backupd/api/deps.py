"""What routes share: the per-app services object, reached through a FastAPI dependency."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from ..config import Settings
from ..db.pool import ConnectionPool
from ..drill.service import DrillService
from ..jobs import JobRunner, JobStore
from ..schedule import ScheduleStore
from ..scheduler import Scheduler
from ..store import Store


@dataclass
class Services:
    """Built once in the app's lifespan (after the database URL is known and migrated)."""

    settings: Settings
    database_url: str
    pool: ConnectionPool
    store: JobStore
    runner: JobRunner
    archives: Store
    schedules: ScheduleStore | None = None  # automatic backups, retention, drills (CONTRACT §9)
    drills: DrillService | None = None
    scheduler: Scheduler | None = None

    @property
    def uploads_dir(self) -> Path:
        """Uploaded archives wait here for their restore job (local disk, whatever the store)."""
        return self.settings.data_dir / "uploads"

    def object_name(self, row: dict[str, Any]) -> str | None:
        """The store object of a backup job row (None when it lives in another store, or nowhere)."""
        return self.archives.name_of(row["file_path"]) if row.get("file_path") else None


def get_services(request: Request) -> Services:
    return request.app.state.services
