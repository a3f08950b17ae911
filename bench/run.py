"""Benchmark backupd against pg_dump -Fc / pg_restore on the same server, in the same run.

    python bench/run.py [--events N] [--repeat R] [--database-url URL] [--db-prefix NAME]
                        [--store SPEC ...] [--s3-endpoint URL] [--pg-jobs J] [--no-probes] [--results PATH]

Fills a fresh database with `backupd demo-data`, then alternates the sides R times and
quotes medians: backup vs `pg_dump -Fc` of the same tables, restore vs
`pg_restore --clean --if-exists --single-transaction` into identical clones of the source (each
clone checkpointed and synced before its run; the two restores take turns going first).
Also records backupd's peak RSS at N and N/10 events, archive vs dump size, and the server's
floor (the export COPY into nothing, via psql). Prints a table, writes bench/results/latest.json.

backupd runs once with `-o PATH` (the historical figures) and once per `--store SPEC` with no -o
(`backupd backup` into BACKUPD_STORE=SPEC, `backupd restore --latest --yes` from it), recording
times, peak RSS and the peak local disk of each store backup: the backup process's open unlinked
spool files (st_blocks via /proc/PID/fd) plus the files under its BACKUPD_DATA_DIR. SPEC `dir` (the
default) is a fresh directory store; `s3://bucket/prefix` takes BACKUPD_S3_ENDPOINT / --s3-endpoint
and the AWS_* variables. With --pg-jobs J > 0 (default 2) `pg_dump -Fd -jJ -Z1` and `pg_restore -jJ`
from that directory dump are timed too (PostgreSQL's fastest settings on this machine).

During every restore, bench/probes.py samples pg_locks every ~5 ms for the longest ACCESS EXCLUSIVE
and EXCLUSIVE hold on a restored table, and a reader runs `SELECT * FROM events WHERE id = $1`
every 20 ms, recording its longest wait and its errors (--no-probes: neither). backupd's restore and
`pg_restore --single-transaction` run R times at N/10 events too (lock holds and RSS at both sizes).
The output ends with issue 13's figures side by side, as text and as a Markdown table for the README
(`python bench/figures.py RESULTS` prints that table again from any results file).

This file is the procedure: `Bench` holds the run's state and its steps in the order `main` calls
them (databases, backup pairs, restore pairs, N/10, results). Measuring a command is in
bench/measure.py, what is printed and written in bench/report.py, the probes in bench/probes.py.
It stays one module of about 500 lines on purpose: every step reads and adds to the same state, and
cutting `Bench` apart would scatter the order a reader of the figures needs to follow.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from measure import measure, peak_rss, timed  # bench/ siblings: bench/ is sys.path[0] when this runs as a script
from probes import Watched, watch
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from report import print_figures, print_summary, summarize, watched_text, write_results

from backupd import DEFAULT_TABLES
from backupd.backup.query import export_query
from backupd.config import Settings
from backupd.db.catalog import describe_tables
from backupd.db.connection import connect, resolve_database_url

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
    """Client tools of the server's major version (pg_dump refuses a newer server, and an older
    pg_dump would not be what a user of that server runs): the embedded wheel's own (18), Debian's
    /usr/lib/postgresql/N/bin, pgserver's (16), or PATH, whichever matches first."""
    with psycopg.connect(server_url) as conn:
        major = conn.info.server_version // 10000
    import importlib.util

    from backupd.db.embedded import embedded_bin_dir
    from backupd.errors import BackupdError

    candidates = []
    with contextlib.suppress(BackupdError):  # the wheel is not installed
        candidates.append(embedded_bin_dir())
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    if shutil.which("pg_dump"):
        candidates.append(Path(shutil.which("pg_dump")).parent)  # type: ignore[arg-type]
    for directory in candidates:
        tool = directory / "pg_dump"
        if tool.exists():
            out = subprocess.run([str(tool), "--version"], capture_output=True, text=True).stdout
            if re.search(rf"\b{major}\.", out):
                return directory
    sys.exit(f"bench: no pg_dump for PostgreSQL {major} found")


@dataclass
class StoreRun:
    """One --store: where backupd writes and reads, and what it measured there."""

    label: str
    spec: str
    env: dict[str, str]
    backup: list[float]
    restore: list[float]
    rss: dict[str, int]
    disk_peak: int = 0
    archive_bytes: int = 0
    written: list[str] | None = None  # object names, removed at the end
    watched: list[Watched] = field(default_factory=list)  # the probes' view of each restore

    @property
    def kind(self) -> str:
        return "s3" if self.spec.startswith("s3://") else "directory"


def uncompressed_bytes(archive: Path) -> int:
    with zipfile.ZipFile(archive) as z:
        return sum(info.file_size for info in z.infolist())


def open_bench_store(run: StoreRun):
    from backupd.store import open_store

    return open_store(run.spec, s3_endpoint=run.env.get("BACKUPD_S3_ENDPOINT"))


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
        subprocess.run(
            [str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", script.name],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def id_range(url: str) -> tuple[int, int]:
    """The events' id range, from which the reader probe picks (a missing id is fine)."""
    with psycopg.connect(url) as conn:
        low, high = conn.execute("SELECT min(id), max(id) FROM events").fetchone()
    return (low or 1, high or 1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="server to use (default: $BACKUPD_DATABASE_URL, else embedded)")
    parser.add_argument(
        "--store",
        action="append",
        metavar="SPEC",
        help="also back up into / restore from this store (BACKUPD_STORE syntax); `dir` is a fresh"
        " directory store; repeat for several (default: dir)",
    )
    parser.add_argument(
        "--s3-endpoint",
        default=os.environ.get("BACKUPD_S3_ENDPOINT"),
        help="S3 endpoint for s3:// stores (default: $BACKUPD_S3_ENDPOINT, else AWS)",
    )
    parser.add_argument(
        "--pg-jobs", type=int, default=2, help="also time pg_dump -Fd -jJ -Z1 / pg_restore -jJ with J jobs (0: skip)"
    )
    parser.add_argument(
        "--db-prefix",
        default="backupd_bench",
        help="names of the databases this creates and drops: PREFIX_src, _small, _target",
    )
    parser.add_argument(
        "--no-probes",
        dest="probes",
        action="store_false",
        help="no lock sampler and no reader probe during the restores (times only)",
    )
    parser.add_argument(
        "--results", type=Path, default=ROOT / "results" / "latest.json", help="where to write the JSON"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    return parser.parse_args()


def make_stores(specs: list[str], work: Path, env: dict[str, str], s3_endpoint: str | None) -> list[StoreRun]:
    """One StoreRun per --store SPEC (`dir`: a fresh directory under `work`), each with its own data dir."""
    stores: list[StoreRun] = []
    for i, spec in enumerate(specs):
        label = spec if spec != "dir" else "directory"
        if spec == "dir":
            spec = str(work / f"store{i}")
        store_env = {**env, "BACKUPD_STORE": spec, "BACKUPD_DATA_DIR": str(work / f"data-store{i}")}
        if spec.startswith("s3://"):
            if s3_endpoint:
                store_env["BACKUPD_S3_ENDPOINT"] = s3_endpoint
            label = spec
        if any(run.label == label for run in stores):
            label = f"{label} #{i + 1}"
        stores.append(StoreRun(label, spec, store_env, [], [], {}, written=[]))
    return stores


class Bench:
    """One benchmark run: the server and its tools, the databases, the work directory, and every figure
    measured so far (`runs`, `rss`, `watched`, … filled in by the run_* steps, read by result())."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
        self.server_url = resolve_database_url(settings)
        self.bin_dir = pg_bin_dir(self.server_url)
        self.work = work = Path(tempfile.mkdtemp(prefix="backupd-bench-"))
        self.env = {**os.environ, "BACKUPD_DATA_DIR": str(work / "data")}
        for key in ("BACKUPD_STORE", "BACKUPD_ENCRYPT_TO"):  # -o runs and pg_* never see a store; nothing is encrypted
            self.env.pop(key, None)
        self.table_flags = [f"--table=public.{t}" for t in DEFAULT_TABLES]
        self.stores = make_stores(args.store or ["dir"], work, self.env, args.s3_endpoint)
        self.names = {part: f"{args.db_prefix}_{part}" for part in ("src", "small", "target")}
        self.n10 = max(args.events // 10, 1)
        self.archive, self.dump, self.dump_dir = work / "bench.zip", work / "bench.dump", work / "bench.dir"
        self.small_archive, self.small_dump = work / "s.zip", work / "s.dump"
        self.runs: dict[str, list[float]] = {
            "backupd_backup": [],
            "pg_dump": [],
            "backupd_restore": [],
            "pg_restore": [],
        }
        if args.pg_jobs:
            self.runs.update({"pg_dump_dir": [], "pg_restore_dir": []})
        self.runs_n10: dict[str, list[float]] = {"backupd_restore": [], "pg_restore": []}
        self.rss: dict[str, int] = {}
        self.swap_lock: list[float] = []
        self.swap_lock_n10: list[float] = []
        tools = ["backupd", "pg_restore_single_transaction"] + (["pg_restore_dir"] if args.pg_jobs else [])
        self.watched: dict[str, dict[str, list[Watched]]] = {
            "n": {t: [] for t in tools},
            "n10": {t: [] for t in tools[:2]},
        }
        self.src = self.small = ""  # the databases' URLs, once prepare_databases() made them
        self.ids: dict[str, tuple[int, int]] = {}
        self.server_version = 0
        self.restore_flags: list[str] = []
        self.floor = 0.0
        self.loadavg_start = self.loadavg_end = (0.0, 0.0, 0.0)

    def print_header(self) -> None:
        self.loadavg_start = os.getloadavg()
        args = self.args
        print(
            f"server {self.server_url.split('@')[-1]}  tools {self.bin_dir}  events {args.events:,}"
            f"  repeat {args.repeat}  stores {', '.join(s.label for s in self.stores)}"
            f"  load {self.loadavg_start[0]:.2f}"
        )

    def clean_up(self) -> None:
        if not self.args.keep:
            for name in self.names.values():
                drop(self.server_url, name)
        shutil.rmtree(self.work, ignore_errors=True)

    def prepare_databases(self) -> None:
        """The source (N events) and the small source (N/10), filled by `backupd demo-data`."""
        self.src = recreate(self.server_url, self.names["src"])
        self.small = recreate(self.server_url, self.names["small"])
        for url, n in ((self.src, self.args.events), (self.small, self.n10)):
            seconds = timed([*BACKUPD, "--database-url", url, "demo-data", "--events", str(n)], self.env)
            print(f"demo-data {n:,} events: {seconds:.1f} s")
        with psycopg.connect(self.src, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            self.server_version = conn.info.server_version
        self.ids = {"n": id_range(self.src), "n10": id_range(self.small)}

    def detect_restore_flags(self) -> None:
        """pg_restore takes no safety backup of the rows it replaces; neither does backupd here (a safety
        backup is a whole backup more, and it would become the store's --latest)."""
        restore_help = subprocess.run(
            [*BACKUPD, "restore", "--help"], capture_output=True, text=True, env=self.env
        ).stdout
        self.restore_flags = ["--no-safety-backup"] if "--no-safety-backup" in restore_help else []

    # --- backups -------------------------------------------------------------------------------------

    def run_backup_pairs(self) -> None:
        """R runs of backupd -o against pg_dump -Fc, each followed by every store's backup and pg_dump -Fd."""
        for i in range(self.args.repeat):
            seconds, peak, _ = peak_rss(
                [*BACKUPD, "--database-url", self.src, "backup", "-o", str(self.archive)], self.env
            )
            self.runs["backupd_backup"].append(seconds)
            self.rss["backup_n"] = max(self.rss.get("backup_n", 0), peak)
            seconds = timed(
                [str(self.bin_dir / "pg_dump"), "-Fc", *self.table_flags, "-f", str(self.dump), "-d", self.src]
            )
            self.runs["pg_dump"].append(seconds)
            line = f"  run {i + 1}: backup {self.runs['backupd_backup'][-1]:.1f} s  pg_dump {seconds:.1f} s"
            for run in self.stores:
                line += self.store_backup(run)
            if self.args.pg_jobs:
                line += self.pg_dump_dir()
            print(line, flush=True)

    def store_backup(self, run: StoreRun) -> str:
        """`backupd backup` into the store (no -o), with its peak RSS and local disk; its part of the line."""
        m = measure(
            [*BACKUPD, "--database-url", self.src, "backup"], run.env, watch_disk=Path(run.env["BACKUPD_DATA_DIR"])
        )
        run.backup.append(m.seconds)
        run.rss["backup"] = max(run.rss.get("backup", 0), m.peak_rss_kib)
        run.disk_peak = max(run.disk_peak, m.peak_disk_bytes or 0)
        location = m.stdout.split()[0]
        name = open_bench_store(run).name_of(location)
        assert name, f"bench: backup wrote {location}, not in {run.spec}"
        run.written.append(name)  # type: ignore[union-attr]
        return (
            f"  [{run.label}] {m.seconds:.1f} s, {m.peak_rss_kib / 1024:.0f} MiB,"
            f" disk {(m.peak_disk_bytes or 0) / 2**20:.1f} MiB"
        )

    def pg_dump_dir(self) -> str:
        shutil.rmtree(self.dump_dir, ignore_errors=True)
        seconds = timed(
            [
                str(self.bin_dir / "pg_dump"),
                "-Fd",
                f"-j{self.args.pg_jobs}",
                "-Z1",
                *self.table_flags,
                "-f",
                str(self.dump_dir),
                "-d",
                self.src,
            ]
        )
        self.runs["pg_dump_dir"].append(seconds)
        return f"  pg_dump -Fd -j{self.args.pg_jobs} -Z1 {seconds:.1f} s"

    # --- restores ------------------------------------------------------------------------------------

    def clone(self, template: str) -> str:
        """A fresh copy of the source with every write of the machine on disk (CREATE DATABASE writes the
        copy through the WAL and shared buffers, and the previous run leaves gigabytes to flush), so that no
        tool is timed while the server or the kernel writes out what came before it."""
        url = recreate(self.server_url, self.names["target"], template=self.names[template])
        # neither superuser nor pg_checkpoint: go on unflushed
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            admin(self.server_url, sql.SQL("CHECKPOINT"))
        os.sync()
        return url

    def probed(self, size: str, target: str) -> contextlib.AbstractContextManager[Watched]:
        """The lock sampler and the reader probe on `target` around a restore (bench/probes.py)."""
        return watch(target, DEFAULT_TABLES, self.ids[size], enabled=self.args.probes)

    def restore_pair(
        self, i: int, size: str, archive: Path, dump: Path, times: dict[str, list[float]], locks: list[float]
    ) -> str:
        """backupd's restore and `pg_restore --single-transaction`, each into a fresh clone, in turn order
        (backupd first in odd runs, pg_restore first in even ones, so neither always follows the same thing);
        returns their part of the run's line."""
        parts: dict[str, str] = {}
        for step in ("backupd", "pg_restore") if i % 2 == 0 else ("pg_restore", "backupd"):
            if step == "backupd":
                parts[step] = self.backupd_restore(size, archive, times, locks)
            else:
                parts[step] = self.pg_restore(size, dump, times)
        return parts["backupd"] + parts["pg_restore"]

    def backupd_restore(self, size: str, archive: Path, times: dict[str, list[float]], locks: list[float]) -> str:
        target = self.clone("src" if size == "n" else "small")
        with self.probed(size, target) as w:
            m = measure(
                [*BACKUPD, "--database-url", target, "restore", str(archive), "--yes", *self.restore_flags], self.env
            )
        times["backupd_restore"].append(m.seconds)
        self.watched[size]["backupd"].append(w)
        self.rss[f"restore_{size}"] = max(self.rss.get(f"restore_{size}", 0), m.peak_rss_kib)
        match = re.search(r"tables locked for ([0-9.]+)s", m.stdout)
        if match:
            locks.append(float(match.group(1)))
        return f" restore {m.seconds:.1f} s{watched_text(w)}"

    def pg_restore(self, size: str, dump: Path, times: dict[str, list[float]]) -> str:
        target = self.clone("src" if size == "n" else "small")
        pg_restore_1 = [
            str(self.bin_dir / "pg_restore"),
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--no-owner",
        ]
        with self.probed(size, target) as w:
            seconds = timed([*pg_restore_1, "-d", target, str(dump)])
        times["pg_restore"].append(seconds)
        self.watched[size]["pg_restore_single_transaction"].append(w)
        return f"  pg_restore {seconds:.1f} s{watched_text(w)}"

    def run_restore_pairs(self) -> None:
        """R runs of the restore pair at N events, each followed by every store's restore and pg_restore -j."""
        for i in range(self.args.repeat):
            line = f"  run {i + 1}:" + self.restore_pair(i, "n", self.archive, self.dump, self.runs, self.swap_lock)
            for run in self.stores:
                line += self.store_restore(run)
            if self.args.pg_jobs:
                line += self.pg_restore_dir()
            print(line, flush=True)

    def store_restore(self, run: StoreRun) -> str:
        """`backupd restore --latest` from the store into a fresh clone; its part of the line."""
        target = self.clone("src")
        with self.probed("n", target) as w:
            m = measure(
                [*BACKUPD, "--database-url", target, "restore", "--latest", "--yes", *self.restore_flags], run.env
            )
        run.restore.append(m.seconds)
        run.watched.append(w)
        run.rss["restore"] = max(run.rss.get("restore", 0), m.peak_rss_kib)
        return f"  [{run.label}] {m.seconds:.1f} s, {m.peak_rss_kib / 1024:.0f} MiB"

    def pg_restore_dir(self) -> str:
        # pg_restore cannot combine -j with --single-transaction; --clean --if-exists as above
        target = self.clone("src")
        with self.probed("n", target) as w:
            seconds = timed(
                [
                    str(self.bin_dir / "pg_restore"),
                    "--clean",
                    "--if-exists",
                    f"-j{self.args.pg_jobs}",
                    "--no-owner",
                    "-d",
                    target,
                    str(self.dump_dir),
                ]
            )
        self.runs["pg_restore_dir"].append(seconds)
        self.watched["n"]["pg_restore_dir"].append(w)
        return f"  pg_restore -j{self.args.pg_jobs} {seconds:.1f} s{watched_text(w)}"

    def run_small_restore_pairs(self) -> None:
        """N/10: the backup's RSS, then backupd's restore and pg_restore --single-transaction again (R times),
        so that lock holds, reader waits and the restore's RSS can be compared across a 10x size change."""
        _, self.rss["backup_n10"], _ = peak_rss(
            [*BACKUPD, "--database-url", self.small, "backup", "-o", str(self.small_archive)], self.env
        )
        timed([str(self.bin_dir / "pg_dump"), "-Fc", *self.table_flags, "-f", str(self.small_dump), "-d", self.small])
        for i in range(self.args.repeat):
            print(
                f"  N/10 run {i + 1}:"
                + self.restore_pair(i, "n10", self.small_archive, self.small_dump, self.runs_n10, self.swap_lock_n10),
                flush=True,
            )

    def finish_stores(self) -> None:
        """Each store's last archive size; then every object the runs wrote is deleted."""
        for run in self.stores:
            store = open_bench_store(run)
            run.archive_bytes = store.info(run.written[-1]).size  # type: ignore[index]
            for name in run.written or []:
                store.delete(name)

    # --- results -------------------------------------------------------------------------------------

    def probe_results(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """(restore_lock, reader_probe) per size and per tool (see summarize())."""
        restore_lock: dict[str, dict] = {}
        reader_probe: dict[str, dict] = {}
        for size, events in (("n", self.args.events), ("n10", self.n10)):
            restore_lock[size] = {"events": events}
            reader_probe[size] = {"events": events, "interval_s": 0.02, "id_range": list(self.ids[size])}
            for tool, seen in self.watched[size].items():
                restore_lock[size][tool], reader_probe[size][tool] = summarize(seen)
        return restore_lock, reader_probe

    def store_results(self, med: dict[str, float]) -> dict[str, dict]:
        return {
            run.label: {
                "spec": run.spec if run.label != "directory" else "dir",
                "kind": run.kind,
                "endpoint": run.env.get("BACKUPD_S3_ENDPOINT") if run.kind == "s3" else None,
                "seconds_median": {"backup": statistics.median(run.backup), "restore": statistics.median(run.restore)},
                "seconds_all": {"backup": run.backup, "restore": run.restore},
                "backup_ratio": statistics.median(run.backup) / med["pg_dump"],
                "restore_ratio": statistics.median(run.restore) / med["pg_restore"],
                "peak_rss_mib": {k: round(v / 1024, 1) for k, v in run.rss.items()},
                "peak_local_disk_mib": round(run.disk_peak / 2**20, 1),
                "archive_bytes": run.archive_bytes,
                "restore_lock": summarize(run.watched)[0],
                "reader_probe": summarize(run.watched)[1],
            }
            for run in self.stores
        }

    def pg_directory_dump(self, med: dict[str, float]) -> dict | None:
        if not self.args.pg_jobs:
            return None
        dump_dir_bytes = sum(p.stat().st_size for p in self.dump_dir.iterdir())
        return {
            "jobs": self.args.pg_jobs,
            "compress": 1,
            "dump_bytes": dump_dir_bytes,
            "backup_ratio": med["backupd_backup"] / med["pg_dump_dir"],
            "restore_ratio": med["backupd_restore"] / med["pg_restore_dir"],
        }

    def result(self) -> dict:
        """Everything measured, in bench/results/latest.json's shape."""
        args, rss, archive, dump = self.args, self.rss, self.archive, self.dump
        med = {k: statistics.median(v) for k, v in self.runs.items()}
        med_n10 = {k: statistics.median(v) for k, v in self.runs_n10.items()}
        restore_lock, reader_probe = self.probe_results()
        return {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "server": self.server_version,
            "events": args.events,
            "repeat": args.repeat,
            "loadavg_start_end": [round(self.loadavg_start[0], 2), round(self.loadavg_end[0], 2)],
            "seconds_median": med,
            "seconds_all": self.runs,
            "backup_ratio": med["backupd_backup"] / med["pg_dump"],
            "restore_ratio": med["backupd_restore"] / med["pg_restore"],
            "server_floor_seconds": self.floor,
            "peak_rss_mib": {k: round(v / 1024, 1) for k, v in rss.items()},
            "rss_growth_n10_to_n": rss["backup_n"] / rss["backup_n10"],
            "restore_rss_growth_n10_to_n": rss["restore_n"] / rss["restore_n10"],
            "archive_bytes": archive.stat().st_size,
            "archive_uncompressed_bytes": uncompressed_bytes(archive),
            "dump_bytes": dump.stat().st_size,
            "size_ratio": archive.stat().st_size / dump.stat().st_size,
            "swap_lock_seconds_median": statistics.median(self.swap_lock) if self.swap_lock else None,
            "n10": {
                "events": self.n10,
                "seconds_median": med_n10,
                "seconds_all": self.runs_n10,
                "restore_ratio": med_n10["backupd_restore"] / med_n10["pg_restore"],
                "swap_lock_seconds_median": statistics.median(self.swap_lock_n10) if self.swap_lock_n10 else None,
            },
            # per size (n, n10) and per tool (backupd, pg_restore_single_transaction, pg_restore_dir): medians
            # over the runs, and each run (None with --no-probes); see bench/probes.py
            "restore_lock": restore_lock if args.probes else None,
            "reader_probe": reader_probe if args.probes else None,
            "restore_flags": self.restore_flags,
            "pg_directory_dump": self.pg_directory_dump(med),
            "stores": self.store_results(med),
        }


def main() -> int:
    args = parse_args()
    bench = Bench(args)
    bench.print_header()
    atexit.register(bench.clean_up)  # also when a step fails (sys.exit): a 1M-event run leaves gigabytes otherwise
    bench.prepare_databases()
    bench.detect_restore_flags()
    bench.run_backup_pairs()
    bench.run_restore_pairs()
    bench.run_small_restore_pairs()
    bench.floor = server_floor(bench.bin_dir, bench.src)
    bench.finish_stores()
    bench.loadavg_end = os.getloadavg()
    result = bench.result()
    print_summary(result, args.pg_jobs, bench.loadavg_start[0], bench.loadavg_end[0])
    write_results(args.results, result)
    print_figures(result, args.repeat, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
