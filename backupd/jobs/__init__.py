"""Backup and restore jobs: their rows in schema backupd (`records.py`), the progress the engines
report into them (`progress.py`), the threads that run the engines for them (`runner.py`), and
the recovery of jobs whose process died (`recovery.py`). The connection pool their queries
borrow from is the database layer's (`backupd.db.pool`)."""

from .progress import ProgressWriter
from .records import JobKind, JobRecords, restores_what_it_holds
from .recovery import INTERRUPTED_MESSAGE, JobReaper, Recovery, reap_orphaned_jobs, recover_interrupted_jobs
from .runner import JobRunner, RestoreRequest, record_backup, take_safety_backup

__all__ = [
    "INTERRUPTED_MESSAGE",
    "JobKind",
    "JobReaper",
    "JobRecords",
    "JobRunner",
    "ProgressWriter",
    "Recovery",
    "RestoreRequest",
    "reap_orphaned_jobs",
    "record_backup",
    "recover_interrupted_jobs",
    "restores_what_it_holds",
    "take_safety_backup",
]
