"""What routes share: the per-app services object, reached through a FastAPI dependency."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from ..config import Settings
from ..jobs import ConnectionPool, JobRunner, JobStore


@dataclass
class Services:
    """Built once in the app's lifespan (after the database URL is known and migrated)."""

    settings: Settings
    database_url: str
    pool: ConnectionPool
    store: JobStore
    runner: JobRunner

    @property
    def archive_dir(self) -> Path:
        return self.settings.archive_dir

    @property
    def uploads_dir(self) -> Path:
        """Uploaded archives wait here for their restore job (same filesystem as the archives)."""
        return self.settings.archive_dir / "uploads"


def get_services(request: Request) -> Services:
    return request.app.state.services
