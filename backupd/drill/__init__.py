"""Restore drills: the drill itself (`run.py`: restore into a staging database, re-export,
compare) and drills as a service of `serve` (`service.py`: history, one at a time, schedule)."""

from .run import DrillReport, format_report, run_drill

__all__ = ["DrillReport", "format_report", "run_drill"]
