"""Restore drills: prove an archive restores exactly, on a staging database.

The drill restores the archive's own table set into the target (tables it lacks are created from
the archive's definitions, `recreation.py`), then re-exports the same tables with the backup
engine and compares each member's SHA-256 and row count with the archive's manifest. Export is
deterministic (primary-key order, pinned output settings), so equal checksums mean every value of
every row came back identically.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..archive import ArchiveReader, ArchiveSource
from ..backup.engine import create_backup
from ..db.locks import operation_lock
from ..errors import BackupdError
from ..progress import ProgressCallback
from ..restore.engine import RestoreResult, restore_from_backup
from ..restore.recreation import archive_set


@dataclass(frozen=True)
class DrillTable:
    key: str
    expected_count: int
    expected_checksum: str
    actual_count: int | None
    actual_checksum: str | None

    @property
    def ok(self) -> bool:
        return self.actual_count == self.expected_count and self.actual_checksum == self.expected_checksum


@dataclass
class DrillReport:
    archive: str  # a path or a store location
    backup_id: str | None = None
    recreated: list[str] = field(default_factory=list)  # tables the target lacked, created from the archive
    tables: list[DrillTable] = field(default_factory=list)
    restore: RestoreResult | None = None
    seconds: float = 0.0
    error: str | None = None  # why the drill could not complete (restore refused, archive bad, ...)

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.tables) and all(t.ok for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.actual_count or 0 for t in self.tables)


class _Discard:
    """An archive target that keeps nothing: the drill only needs the re-export's manifest."""

    def write(self, chunks: Iterable[bytes]) -> int:
        return sum(len(chunk) for chunk in chunks)

    def __str__(self) -> str:
        return "(discarded)"


def run_drill(
    target_url: str,
    archive_path: Path | str | ArchiveSource,
    *,
    tables: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
) -> DrillReport:
    """Restore into `target_url` and compare; never raises for a failed drill, the report says why.

    Takes the operation lock on the target, so a drill never collides with backupd working there.
    The table set is the archive's (`tables` is accepted for callers that name it; the archive wins
    where they differ, since the drill proves the archive).
    """
    started = time.monotonic()
    report = DrillReport(archive=str(archive_path))
    try:
        with ArchiveReader(archive_path) as reader:
            report.backup_id = reader.manifest.backup_id
            names, _ = archive_set(reader.manifest)
            # The fresh backup below reads every row, so it records each table's checksum of its rows;
            # an archive with reused parts records a checksum of parts: compare rows with rows.
            rows = {key: reader.rows_checksum(key) for key in reader.manifest.contents}
        with operation_lock(target_url):
            report.restore = restore_from_backup(
                target_url, archive_path, tables=names, progress=progress, whole_archive=True
            )
            report.recreated = report.restore.recreated
            again = create_backup(target_url, _Discard(), tables=names)
        expected = report.restore.manifest.contents
        for key, entry in expected.items():
            got = again.manifest.contents.get(key)
            report.tables.append(
                DrillTable(
                    key=key,
                    expected_count=entry.count,
                    expected_checksum=rows.get(key, entry.checksum),
                    actual_count=None if got is None else got.count,
                    actual_checksum=None if got is None else got.checksum,
                )
            )
    except BackupdError as exc:
        report.error = str(exc)
    report.seconds = time.monotonic() - started
    return report


def format_report(report: DrillReport) -> list[str]:
    """A short human-readable report: one line per table, then the verdict."""
    lines = [f"drill of {report.archive}" + (f" (backup {report.backup_id})" if report.backup_id else "")]
    if report.recreated:
        lines.append(f"  created from the archive's definitions: {', '.join(report.recreated)}")
    for t in report.tables:
        status = "ok" if t.ok else "MISMATCH"
        got = "missing" if t.actual_count is None else f"{t.actual_count:,}"
        detail = (
            ""
            if t.ok
            else (
                f" (archive {t.expected_count:,} rows {t.expected_checksum[:12]}…,"
                f" restored {got} rows {(t.actual_checksum or '')[:12]}…)"
            )
        )
        lines.append(f"  {t.key:<24} {t.expected_count:>12,} rows  {status}{detail}")
    if report.restore is not None:
        lines.append(f"  restore {report.restore.seconds:.1f}s, tables locked {report.restore.swap_lock_seconds:.2f}s")
    if report.error:
        lines.append(f"  error: {' '.join(report.error.split())}")
    verdict = "PASS: the restored data equals the archive" if report.ok else "FAIL"
    lines.append(f"{verdict}  ({len(report.tables)} tables, {report.rows:,} rows, {report.seconds:.1f}s)")
    return lines
