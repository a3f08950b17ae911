"""What GET /metrics and GET /api/status report (docs/operations.md).

Every value is read from the database (job rows, drills, the notification outbox, the schedule) or the
store at the moment of the request (`values.py`), never from one process's memory, so every replica
answers the same. `exposition.py` renders a snapshot in the Prometheus text format through
prometheus_client, with a registry of its own per request (no process-global metric state).
"""

from .exposition import CONTENT_TYPE, render
from .values import BackupSummary, DrillSummary, Snapshot, read_snapshot, with_store

__all__ = ["CONTENT_TYPE", "BackupSummary", "DrillSummary", "Snapshot", "read_snapshot", "render", "with_store"]
