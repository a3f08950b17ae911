"""What routes share: the per-app services object, reached through a FastAPI dependency."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from ..config import Settings
from ..db.pool import ConnectionPool
from ..drill.service import DrillService
from ..jobs import JobRunner, JobStore
from ..schedule.scheduler import Scheduler
from ..schedule.settings import ScheduleStore
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
    # Set by the lifespan once the automation is built (it needs the runner): automatic backups,
    # retention, drills (docs/operations.md).
    schedules: ScheduleStore = field(init=False)
    drills: DrillService = field(init=False)
    scheduler: Scheduler = field(init=False)

    @property
    def uploads_dir(self) -> Path:
        """Uploaded archives wait here for their restore job (local disk, whatever the store)."""
        return self.settings.data_dir / "uploads"

    def object_name(self, row: dict[str, Any]) -> str | None:
        """The store object of a backup job row (None when it lives in another store, or nowhere)."""
        return self.archives.name_of(row["file_path"]) if row.get("file_path") else None


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
