"""The demo application: realistic synthetic data for its eight tables, created by `backupd demo-data` only.

What the data says is in `data.py`, the SQL that makes it inside PostgreSQL in `templates.py`, and the
generator that runs it in one transaction in `generate.py`."""

from .generate import APP_TABLES, DemoDataError, generate_demo_data

__all__ = ["APP_TABLES", "DemoDataError", "generate_demo_data"]
