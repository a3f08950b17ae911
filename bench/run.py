"""Benchmark backupd against pg_dump -Fc / pg_restore on the same server, in the same run.

    python bench/run.py [--events N] [--repeat R] [--database-url URL]

Fills a fresh database with `backupd demo-data`, then alternates the two sides R times and
quotes medians: backup vs `pg_dump -Fc` of the same tables, restore vs
`pg_restore --clean --if-exists --single-transaction` into identical clones of the source.
Also records backupd's peak RSS at N and N/10 events, archive vs dump size, and the server's
floor (the export COPY into nothing, via psql). Prints a table, writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from backupd import DEFAULT_TABLES
from backupd.backup import export_query
from backupd.catalog import describe_tables
from backupd.config import Settings
from backupd.database import connect, resolve_database_url

ROOT = Path(__file__).resolve().parent
BACKUPD = [sys.executable, "-m", "backupd"]


def db_url(server_url: str, name: str) -> str:
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    return make_conninfo(**params)


def admin(server_url: str, statement: sql.Composable) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(statement)


def recreate(server_url: str, name: str, template: str | None = None) -> str:
    admin(server_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    admin(server_url, create)
    return db_url(server_url, name)


def drop(server_url: str, name: str) -> None:
    admin(server_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_bin_dir(server_url: str) -> Path:
    """Client tools of the server's major version: pgserver's own, Debian's, or PATH."""
    with psycopg.connect(server_url) as conn:
        major = conn.info.server_version // 10000
    candidates = []
    try:
        import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    if shutil.which("pg_dump"):
        candidates.append(Path(shutil.which("pg_dump")).parent)  # type: ignore[arg-type]
    for directory in candidates:
        tool = directory / "pg_dump"
        if tool.exists():
            out = subprocess.run([str(tool), "--version"], capture_output=True, text=True).stdout
            if re.search(rf"\b{major}\.", out):
                return directory
    sys.exit(f"bench: no pg_dump for PostgreSQL {major} found")


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Run a command to completion; return its wall-clock seconds."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:4])}… failed: {proc.stderr.decode().strip()}")
    return time.perf_counter() - started


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command and return (seconds, its peak RSS in KiB, stdout).

    The peak is the child's VmHWM, polled from /proc (it only grows, so the last reading is the
    peak up to 20 ms before exit). wait4's ru_maxrss is not used: Linux carries the parent's size
    at fork into it.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        peak = 0
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                match = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
                if match:
                    peak = max(peak, int(match.group(1)))
            except OSError:
                pass
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd[:4])}… failed: {err.read().decode().strip()}")
        return seconds, peak, out.read().decode()


def server_floor(bin_dir: Path, url: str) -> float:
    """Seconds for the server to produce every table's export COPY, discarded by psql."""
    with connect(url) as conn:
        tables = describe_tables(conn, DEFAULT_TABLES)
        queries = [export_query(t).as_string(conn) for t in tables]
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write("SET extra_float_digits = 3;\nSET TimeZone = 'UTC';\n")
        script.write("".join(q + ";\n" for q in queries))
        script.flush()
        started = time.perf_counter()
        subprocess.run([str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", script.name],
                       check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="server to use (default: $BACKUPD_DATABASE_URL, else embedded)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = parser.parse_args()

    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    server_url = resolve_database_url(settings)
    bin_dir = pg_bin_dir(server_url)
    work = Path(tempfile.mkdtemp(prefix="backupd-bench-"))
    env = {**os.environ, "BACKUPD_DATA_DIR": str(work / "data")}
    table_flags = [f"--table=public.{t}" for t in DEFAULT_TABLES]
    print(f"server {server_url.split('@')[-1]}  tools {bin_dir}  events {args.events:,}  repeat {args.repeat}")

    src = recreate(server_url, "backupd_bench_src")
    small = recreate(server_url, "backupd_bench_small")
    for url, n in ((src, args.events), (small, max(args.events // 10, 1))):
        seconds = timed([*BACKUPD, "--database-url", url, "demo-data", "--events", str(n)], env)
        print(f"demo-data {n:,} events: {seconds:.1f} s")
    with psycopg.connect(src, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")

    archive = work / "bench.zip"
    dump = work / "bench.dump"
    runs: dict[str, list[float]] = {"backupd_backup": [], "pg_dump": [], "backupd_restore": [], "pg_restore": []}
    rss: dict[str, int] = {}
    swap_lock: list[float] = []
    for i in range(args.repeat):
        seconds, peak, _ = peak_rss([*BACKUPD, "--database-url", src, "backup", "-o", str(archive)], env)
        runs["backupd_backup"].append(seconds)
        rss["backup_n"] = max(rss.get("backup_n", 0), peak)
        seconds = timed([str(bin_dir / "pg_dump"), "-Fc", *table_flags, "-f", str(dump), "-d", src])
        runs["pg_dump"].append(seconds)
        print(f"  run {i + 1}: backup {runs['backupd_backup'][-1]:.1f} s  pg_dump {seconds:.1f} s")
    for i in range(args.repeat):
        target = recreate(server_url, "backupd_bench_target", template="backupd_bench_src")
        seconds, peak, out = peak_rss([*BACKUPD, "--database-url", target, "restore", str(archive), "--yes"], env)
        runs["backupd_restore"].append(seconds)
        rss["restore_n"] = max(rss.get("restore_n", 0), peak)
        match = re.search(r"tables locked for ([0-9.]+)s", out)
        if match:
            swap_lock.append(float(match.group(1)))
        target = recreate(server_url, "backupd_bench_target", template="backupd_bench_src")
        seconds = timed([str(bin_dir / "pg_restore"), "--clean", "--if-exists", "--single-transaction",
                               "--no-owner", "-d", target, str(dump)])
        runs["pg_restore"].append(seconds)
        print(f"  run {i + 1}: restore {runs['backupd_restore'][-1]:.1f} s  pg_restore {seconds:.1f} s")
    _, rss["backup_n10"], _ = peak_rss([*BACKUPD, "--database-url", small, "backup", "-o", str(work / "s.zip")], env)
    floor = server_floor(bin_dir, src)

    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "server": psycopg.connect(src).info.server_version,
        "events": args.events,
        "repeat": args.repeat,
        "seconds_median": med,
        "seconds_all": runs,
        "backup_ratio": med["backupd_backup"] / med["pg_dump"],
        "restore_ratio": med["backupd_restore"] / med["pg_restore"],
        "server_floor_seconds": floor,
        "peak_rss_mib": {k: round(v / 1024, 1) for k, v in rss.items()},
        "rss_growth_n10_to_n": rss["backup_n"] / rss["backup_n10"],
        "archive_bytes": archive.stat().st_size,
        "dump_bytes": dump.stat().st_size,
        "size_ratio": archive.stat().st_size / dump.stat().st_size,
        "swap_lock_seconds_median": statistics.median(swap_lock) if swap_lock else None,
    }
    rows = [
        ("backup (median s)", f"{med['backupd_backup']:.2f}", f"{med['pg_dump']:.2f}", f"{result['backup_ratio']:.2f}x", "<= 1.30x"),
        ("restore (median s)", f"{med['backupd_restore']:.2f}", f"{med['pg_restore']:.2f}", f"{result['restore_ratio']:.2f}x", "<= 1.50x"),
        ("size (MB)", f"{result['archive_bytes'] / 1e6:.1f}", f"{result['dump_bytes'] / 1e6:.1f}", f"{result['size_ratio']:.2f}x", "<= 1.50x"),
        ("peak RSS backup N (MiB)", f"{result['peak_rss_mib']['backup_n']:.0f}", "", "", "<= 150"),
        ("peak RSS backup N/10 (MiB)", f"{result['peak_rss_mib']['backup_n10']:.0f}", "", f"{result['rss_growth_n10_to_n']:.2f}x", "<= 1.30x"),
        ("peak RSS restore N (MiB)", f"{result['peak_rss_mib']['restore_n']:.0f}", "", "", ""),
        ("server floor: export COPY (s)", f"{floor:.2f}", "", "", ""),
        ("swap lock held (median s)", f"{result['swap_lock_seconds_median']:.2f}" if swap_lock else "n/a", "", "", ""),
    ]
    print()
    print(f"{'':32} {'backupd':>10} {'pg_dump/restore':>16} {'ratio':>8} {'bar':>10}")
    for row in rows:
        print(f"{row[0]:32} {row[1]:>10} {row[2]:>16} {row[3]:>8} {row[4]:>10}")
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {ROOT / 'results' / 'latest.json'}")
    if not args.keep:
        for name in ("backupd_bench_src", "backupd_bench_small", "backupd_bench_target"):
            drop(server_url, name)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
