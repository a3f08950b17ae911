"""Change-proportional backups (docs/change-proportional-backups.md), measured beside pg_dump in one run.

    python bench/reuse.py [--events N] [--repeat R] [--database-url URL] [--pg-jobs J] [--results PATH]

Fills a fresh database with `backupd demo-data`, then times, R times each (medians quoted), every
backup into a fresh directory store as `backupd backup` runs it (the previous completed backup is
the one it may reuse parts of):

- `pg_dump -Fd -jJ -Z1` of the same tables (J = 2: PostgreSQL's fastest settings on this machine);
- a full backup (`backupd backup --full`);
- a backup of an unchanged database (right after the previous backup);
- a backup after one day of the application's activity: 1% new events appended past the highest
  key, 0.5% of events updated among the newest 5% (reviewed, flagged, notes), the oldest 0.5%
  deleted (with their alerts), a few alerts, cameras and settings changed;
- the worst case: 1% of events updated uniformly over the key space.

For each, the server's CPU seconds: utime + stime of every `postgres` process, plus what the
postmaster collected from the backends that exited (cutime + cstime), before and after, from /proc
(only when the server runs on this machine; other activity on the server counts too).
Prints a table and writes bench/results/reuse-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

import psycopg
from measure import measure, timed  # bench/ siblings: bench/ is sys.path[0] when this runs as a script
from psycopg import sql
from run import BACKUPD, ROOT, drop, pg_bin_dir, recreate

from backupd import DEFAULT_TABLES
from backupd.config import Settings
from backupd.db.connection import resolve_database_url

TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds() -> float | None:
    """CPU seconds of every local `postgres` process and of the backends they reaped; None without /proc."""
    total = 0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found = True
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total / TICKS if found else None


def day_of_activity(conn: psycopg.Connection) -> None:
    """One day of the application, as issue 25 models it."""
    low, high, count = conn.execute("SELECT min(id), max(id), count(*) FROM events").fetchone()  # type: ignore[misc]
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = 'events' AND column_name <> 'id' AND is_generated = 'NEVER' ORDER BY ordinal_position"
        ).fetchall()
    ]
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    new = max(1, count // 100)
    conn.execute(
        sql.SQL("INSERT INTO events ({c}) SELECT {c} FROM events WHERE id > %s ORDER BY id LIMIT %s").format(c=cols),
        [high - 2 * new, new],
    )
    newest = high - count // 20
    conn.execute(
        "UPDATE events SET reviewed = true, flagged = NOT flagged, notes = coalesce(notes, '') || ' reviewed'"
        " WHERE id IN (SELECT id FROM events WHERE id > %s ORDER BY random() LIMIT %s)",
        [newest, max(1, count // 200)],
    )
    oldest = low + count // 200
    conn.execute("DELETE FROM alerts WHERE event_id < %s", [oldest])
    conn.execute("DELETE FROM events WHERE id < %s", [oldest])
    conn.execute(
        "UPDATE alerts SET status = 'acknowledged' WHERE id IN (SELECT id FROM alerts ORDER BY random() LIMIT 5)"
    )
    conn.execute("UPDATE cameras SET last_seen_at = now() WHERE id IN (SELECT id FROM cameras LIMIT 3)")
    conn.execute("UPDATE settings SET value = value WHERE key IN (SELECT key FROM settings LIMIT 2)")


def worst_case(conn: psycopg.Connection) -> None:
    """1% of events updated uniformly over the key space: every range changes."""
    conn.execute("UPDATE events SET notes = coalesce(notes, '') || '.' WHERE id % 100 = 0")


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
        self.server_url = resolve_database_url(settings)
        self.work = Path(tempfile.mkdtemp(prefix="backupd-bench-reuse-"))
        self.name = f"{args.db_prefix}_reuse"
        self.src = recreate(self.server_url, self.name)
        self.env = {
            **os.environ,
            "BACKUPD_STORE": str(self.work / "store"),
            "BACKUPD_DATA_DIR": str(self.work / "data"),
        }
        self.bin_dir = pg_bin_dir(self.server_url)
        self.times: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        self.reuse: dict[str, dict[str, int]] = {}
        self.rss: dict[str, list[int]] = {}  # peak RSS of each backupd backup, KiB

    def record(self, label: str, seconds: float, cpu: float | None) -> None:
        self.times.setdefault(label, []).append(seconds)
        if cpu is not None:
            self.cpu.setdefault(label, []).append(cpu)

    def backup(self, label: str, *extra: str) -> None:
        before = server_cpu_seconds()
        run = measure([*BACKUPD, "--database-url", self.src, "backup", *extra], self.env)
        seconds = run.seconds
        after = server_cpu_seconds()
        self.record(label, seconds, None if before is None or after is None else after - before)
        self.rss.setdefault(label, []).append(run.peak_rss_kib)
        for line in run.stdout.splitlines():
            if line.strip().startswith("reused "):
                words = line.replace(",", "").replace("(", "").split()
                self.reuse[label] = {
                    "parts_reused": int(words[1]),
                    "rows_reused": int(words[3]),
                    "parts_read": int(words[6]),
                    "rows_read": int(words[8]),
                }
        last = run.stdout.splitlines()[-1].strip()
        print(f"  {label:<12} {seconds:6.2f} s  {run.peak_rss_kib / 1024:5.0f} MiB  {last}", flush=True)

    def pg_dump(self) -> None:
        target = self.work / "dump"
        shutil.rmtree(target, ignore_errors=True)
        tables = [f"--table=public.{t}" for t in DEFAULT_TABLES]
        cmd = [str(self.bin_dir / "pg_dump"), "-Fd", f"-j{self.args.pg_jobs}", "-Z1", *tables, "-f", str(target)]
        before = server_cpu_seconds()
        seconds = timed([*cmd, "-d", self.src])
        after = server_cpu_seconds()
        self.record("pg_dump_dir", seconds, None if before is None or after is None else after - before)
        print(f"  pg_dump -Fd -j{self.args.pg_jobs} -Z1 {seconds:6.2f} s", flush=True)

    def change(self, what: str) -> None:
        with psycopg.connect(self.src, autocommit=True) as conn:
            day_of_activity(conn) if what == "day" else worst_case(conn)

    def main(self) -> None:
        seconds = timed(
            [*BACKUPD, "--database-url", self.src, "demo-data", "--events", str(self.args.events)], self.env
        )
        print(f"demo-data {self.args.events:,} events: {seconds:.1f} s")
        with psycopg.connect(self.src, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        for i in range(self.args.repeat):
            print(f"run {i + 1}")
            self.pg_dump()
            self.backup("full", "--full")
            self.backup("unchanged")
            self.change("day")
            self.backup("day")
            self.change("worst")
            self.backup("worst")
        self.report()

    def report(self) -> None:
        med = {k: statistics.median(v) for k, v in self.times.items()}
        cpu = {k: statistics.median(v) for k, v in self.cpu.items()}
        dump, full = med["pg_dump_dir"], med["full"]
        ratios = {
            "full / pg_dump -Fd": (full / dump, 1.5),
            "one day / pg_dump -Fd": (med["day"] / dump, 0.2),
            "one day / full backupd": (med["day"] / full, 0.25),
            "unchanged / pg_dump -Fd": (med["unchanged"] / dump, 0.1),
            "worst (1% uniform) / full backupd": (med["worst"] / full, 1.1),
        }
        print(f"\nmedians of {self.args.repeat}, {self.args.events:,} events (seconds; server CPU seconds)")
        for label in ("pg_dump_dir", "full", "unchanged", "day", "worst"):
            extra = f"  server CPU {cpu[label]:.2f} s" if label in cpu else ""
            rss = f"  peak RSS {max(self.rss[label]) / 1024:.0f} MiB" if label in self.rss else ""
            print(f"  {label:<12} {med[label]:7.2f} s{extra}{rss}  {self.reuse.get(label, '')}")
        for name, (value, goal) in ratios.items():
            print(f"  {name:<36} {value:5.2f}x  (goal <= {goal}x) {'ok' if value <= goal else 'MISSED'}")
        results = {
            "events": self.args.events,
            "repeat": self.args.repeat,
            "runs": self.times,
            "server_cpu_seconds": self.cpu,
            "peak_rss_kib": self.rss,
            "medians": med,
            "reuse": self.reuse,
            "ratios": {k: round(v, 3) for k, (v, _) in ratios.items()},
        }
        self.args.results.parent.mkdir(parents=True, exist_ok=True)
        self.args.results.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {self.args.results}")

    def clean_up(self) -> None:
        drop(self.server_url, self.name)
        shutil.rmtree(self.work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--db-prefix", default="backupd_bench")
    parser.add_argument("--pg-jobs", type=int, default=2)
    parser.add_argument("--results", type=Path, default=ROOT / "results" / "reuse-latest.json")
    run = Run(parser.parse_args())
    try:
        run.main()
    finally:
        run.clean_up()


if __name__ == "__main__":
    main()
