"""What bench/run.py prints and writes once every run is measured: the probes' summaries per tool,
the comparison table, one line per store, bench/results/latest.json and issue 13's figures.

A module of its own because it reads only the results (and the probes' Watched records), never a
server: run.py measures, this reports.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import figures  # bench/ siblings: bench/ is sys.path[0] when run.py runs as a script
from probes import Watched


def summarize(watched: list[Watched]) -> tuple[dict, dict] | tuple[None, None]:
    """(restore_lock, reader_probe) of one tool at one size: medians over the runs, and every run."""
    if not watched or not watched[0].restore_lock:
        return None, None
    locks = [w.restore_lock for w in watched]
    probes = [w.reader_probe for w in watched]
    restore_lock = {
        "access_exclusive_max_s": statistics.median(r["access_exclusive_max_s"] for r in locks),
        "exclusive_max_s": statistics.median(r["exclusive_max_s"] for r in locks),
        "runs": locks,
    }
    reader_probe = {
        "max_wait_s": statistics.median(r["max_wait_s"] for r in probes),
        "queries": statistics.median(r["queries"] for r in probes),
        "errors": statistics.median(r["errors"] for r in probes),
        "queries_total": sum(r["queries"] for r in probes),
        "errors_total": sum(r["errors"] for r in probes),
        "runs": probes,
    }
    return restore_lock, reader_probe


def watched_text(w: Watched) -> str:
    """One run's lock and reader figures for the progress lines."""
    if not w.restore_lock:
        return ""
    lock, probe = w.restore_lock, w.reader_probe
    return (
        f" (AE {lock['access_exclusive_max_s']:.2f} s, EX {lock['exclusive_max_s']:.2f} s,"
        f" reader max {probe['max_wait_s']:.2f} s, {probe['errors']}/{probe['queries']} failed)"
    )


def summary_rows(result: dict, pg_jobs: int) -> list[tuple[str, str, str, str, str]]:
    """The comparison table: (figure, backupd, pg_dump/restore, ratio, bar)."""
    med, med_n10, mib = result["seconds_median"], result["n10"]["seconds_median"], result["peak_rss_mib"]
    swap_lock = result["swap_lock_seconds_median"]
    rows = [
        (
            "backup (median s)",
            f"{med['backupd_backup']:.2f}",
            f"{med['pg_dump']:.2f}",
            f"{result['backup_ratio']:.2f}x",
            "<= 1.30x",
        ),
        (
            "restore (median s)",
            f"{med['backupd_restore']:.2f}",
            f"{med['pg_restore']:.2f}",
            f"{result['restore_ratio']:.2f}x",
            "<= 1.50x",
        ),
        (
            "size (MB)",
            f"{result['archive_bytes'] / 1e6:.1f}",
            f"{result['dump_bytes'] / 1e6:.1f}",
            f"{result['size_ratio']:.2f}x",
            "<= 1.50x",
        ),
        ("peak RSS backup N (MiB)", f"{mib['backup_n']:.0f}", "", "", "<= 150"),
        (
            "peak RSS backup N/10 (MiB)",
            f"{mib['backup_n10']:.0f}",
            "",
            f"{result['rss_growth_n10_to_n']:.2f}x",
            "<= 1.30x",
        ),
        ("peak RSS restore N (MiB)", f"{mib['restore_n']:.0f}", "", "", "<= 100"),
        (
            "peak RSS restore N/10 (MiB)",
            f"{mib['restore_n10']:.0f}",
            "",
            f"{result['restore_rss_growth_n10_to_n']:.2f}x",
            "<= 1.30x",
        ),
        (
            "restore N/10 (median s)",
            f"{med_n10['backupd_restore']:.2f}",
            f"{med_n10['pg_restore']:.2f}",
            f"{result['n10']['restore_ratio']:.2f}x",
            "",
        ),
        ("server floor: export COPY (s)", f"{result['server_floor_seconds']:.2f}", "", "", ""),
        ("swap lock held (median s)", f"{swap_lock:.2f}" if swap_lock is not None else "n/a", "", "", ""),
    ]
    if pg_jobs:
        j = pg_jobs
        rows += [
            (
                f"backup vs pg_dump -Fd -j{j} -Z1",
                f"{med['backupd_backup']:.2f}",
                f"{med['pg_dump_dir']:.2f}",
                f"{med['backupd_backup'] / med['pg_dump_dir']:.2f}x",
                "",
            ),
            (
                f"restore vs pg_restore -j{j}",
                f"{med['backupd_restore']:.2f}",
                f"{med['pg_restore_dir']:.2f}",
                f"{med['backupd_restore'] / med['pg_restore_dir']:.2f}x",
                "",
            ),
        ]
    return rows


def print_summary(result: dict, pg_jobs: int, loadavg_start: float, loadavg_end: float) -> None:
    """The comparison table, one line per store, and the archive's size and the load average."""
    print()
    print(f"{'':32} {'backupd':>10} {'pg_dump/restore':>16} {'ratio':>8} {'bar':>10}")
    for row in summary_rows(result, pg_jobs):
        print(f"{row[0]:32} {row[1]:>10} {row[2]:>16} {row[3]:>8} {row[4]:>10}")
    print()
    print(
        f"{'store':36} {'backup s':>9} {'ratio':>6} {'restore s':>10} {'ratio':>6} {'RSS b/r MiB':>12} {'disk MiB':>9}"
    )
    for label, r in result["stores"].items():
        print(
            f"{label[:36]:36} {r['seconds_median']['backup']:>9.2f} {r['backup_ratio']:>5.2f}x"
            f" {r['seconds_median']['restore']:>10.2f} {r['restore_ratio']:>5.2f}x"
            f" {r['peak_rss_mib']['backup']:>5.0f}/{r['peak_rss_mib']['restore']:<6.0f}"
            f" {r['peak_local_disk_mib']:>9.1f}"
        )
    print(
        f"(archive {result['archive_uncompressed_bytes'] / 2**30:.2f} GiB uncompressed; load average"
        f" {loadavg_start:.2f} at start, {loadavg_end:.2f} at end)"
    )


def write_results(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def print_figures(result: dict, repeat: int, path: Path) -> None:
    """Issue 13's figures, as text and as the README's Markdown table (bench/figures.py)."""
    print(f"\nIssue 13's figures (medians of {repeat}; N/10 and N events):\n")
    print(figures.text(result))
    print("\nFor the README's Performance section:\n")
    print(figures.markdown(result))
    print(f"\nwrote {path}")
