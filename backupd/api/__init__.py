"""The REST API (docs/rest-api.md): FastAPI app, routes, authentication and upload streaming."""

from .app import create_app

__all__ = ["create_app"]
