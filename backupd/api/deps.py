"""What routes share: the service (built by backupd.services), reached through a FastAPI dependency."""

from __future__ import annotations

from fastapi import Request

from ..services import Services

__all__ = ["Services", "get_services"]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
