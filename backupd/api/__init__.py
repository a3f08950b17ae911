"""The REST API (CONTRACT §5): FastAPI app, routes, authentication and upload streaming."""

from .app import create_app

__all__ = ["create_app"]
