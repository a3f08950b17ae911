"""Running a command to completion and measuring it, for bench/run.py: wall-clock seconds, the
child's peak RSS, and (for a store backup) the peak local disk its spools and data directory hold.

A module of its own because it knows /proc and nothing of backupd, PostgreSQL or the results.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Run a command to completion; return its wall-clock seconds."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:4])}… failed: {proc.stderr.decode().strip()}")
    return time.perf_counter() - started


@dataclass
class Measured:
    seconds: float
    peak_rss_kib: int
    stdout: str
    peak_disk_bytes: int | None = None  # open unlinked files + files under the watched directory


def local_disk_bytes(pid: int, data_dir: Path) -> int:
    """Disk blocks held by `pid`'s deleted-but-open files (the part spools) and by files under `data_dir`.

    st_blocks counts what is allocated (a sparse or still-growing file counts what it really uses);
    an unlinked file is reached through its /proc/PID/fd link, which stat() follows.
    """
    total = 0
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return 0
    for fd in fds:
        try:
            if os.readlink(fd_dir / fd).endswith(" (deleted)"):
                st = os.stat(fd_dir / fd)
                if st.st_nlink == 0 and (st.st_mode & 0o170000) == 0o100000:  # a regular file with no name
                    total += st.st_blocks * 512
        except OSError:
            continue
    for root, _, files in os.walk(data_dir):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


def measure(cmd: list[str], env: dict[str, str], *, watch_disk: Path | None = None) -> Measured:
    """Run a command; return its seconds, peak RSS in KiB, stdout and (with watch_disk) peak local disk.

    The peak RSS is the child's VmHWM, polled from /proc (it only grows, so the last reading is the
    peak up to 20 ms before exit). wait4's ru_maxrss is not used: Linux carries the parent's size
    at fork into it. Disk is sampled at the same 20 ms, so a peak shorter than that can be missed;
    the spools change by 1 MiB writes and 2 MiB segments, well within that.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        peak = 0
        disk_peak = 0
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                match = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
                if match:
                    peak = max(peak, int(match.group(1)))
            except OSError:
                pass
            if watch_disk is not None:
                disk_peak = max(disk_peak, local_disk_bytes(proc.pid, watch_disk))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd[:4])}… failed: {err.read().decode().strip()}")
        return Measured(seconds, peak, out.read().decode(), disk_peak if watch_disk is not None else None)


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command and return (seconds, its peak RSS in KiB, stdout) (see measure())."""
    m = measure(cmd, env)
    return m.seconds, m.peak_rss_kib, m.stdout
