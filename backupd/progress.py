"""Progress reports shared by the engines, the job runner and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    phase: str  # backup: "running"; restore: "validating" | "restoring" (staging and swap)
    percent: int  # 0..100, never decreasing within one operation; 100 only at completion
    step: str  # human-readable current step, e.g. "Exporting events"
    completed_tables: int
    total_tables: int


ProgressCallback = Callable[[Progress], None]


def ignore_progress(_: Progress) -> None:
    pass


class MonotonicProgress:
    """Wraps a callback so percent never goes down and stays below 100 until `finish`."""

    def __init__(self, callback: ProgressCallback | None, total_tables: int) -> None:
        self._callback = callback or ignore_progress
        self.total_tables = total_tables
        self._percent = 0

    def report(self, phase: str, percent: float, step: str, completed_tables: int) -> None:
        self._percent = max(self._percent, min(99, int(percent)))
        self._callback(Progress(phase, self._percent, step, completed_tables, self.total_tables))

    def finish(self, phase: str, step: str) -> None:
        self._percent = 100
        self._callback(Progress(phase, 100, step, self.total_tables, self.total_tables))
