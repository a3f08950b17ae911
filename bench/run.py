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
"""

from __future__ import annotations

import argparse
import atexit
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
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import figures  # bench/ siblings: bench/ is sys.path[0] when this runs as a script
import psycopg
from probes import Watched, watch
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from backupd import DEFAULT_TABLES
from backupd.backup.engine import export_query
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
    try:
        candidates.append(embedded_bin_dir())
    except BackupdError:  # the wheel is not installed
        pass
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
        subprocess.run([str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", script.name],
                       check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started


def id_range(url: str) -> tuple[int, int]:
    """The events' id range, from which the reader probe picks (a missing id is fine)."""
    with psycopg.connect(url) as conn:
        low, high = conn.execute("SELECT min(id), max(id) FROM events").fetchone()
    return (low or 1, high or 1)


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
    return (f" (AE {lock['access_exclusive_max_s']:.2f} s, EX {lock['exclusive_max_s']:.2f} s,"
            f" reader max {probe['max_wait_s']:.2f} s, {probe['errors']}/{probe['queries']} failed)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="server to use (default: $BACKUPD_DATABASE_URL, else embedded)")
    parser.add_argument("--store", action="append", metavar="SPEC",
                        help="also back up into / restore from this store (BACKUPD_STORE syntax); `dir` is a fresh"
                             " directory store; repeat for several (default: dir)")
    parser.add_argument("--s3-endpoint", default=os.environ.get("BACKUPD_S3_ENDPOINT"),
                        help="S3 endpoint for s3:// stores (default: $BACKUPD_S3_ENDPOINT, else AWS)")
    parser.add_argument("--pg-jobs", type=int, default=2,
                        help="also time pg_dump -Fd -jJ -Z1 / pg_restore -jJ with J jobs (0: skip)")
    parser.add_argument("--db-prefix", default="backupd_bench",
                        help="names of the databases this creates and drops: PREFIX_src, _small, _target")
    parser.add_argument("--no-probes", dest="probes", action="store_false",
                        help="no lock sampler and no reader probe during the restores (times only)")
    parser.add_argument("--results", type=Path, default=ROOT / "results" / "latest.json", help="where to write the JSON")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = parser.parse_args()

    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    server_url = resolve_database_url(settings)
    bin_dir = pg_bin_dir(server_url)
    work = Path(tempfile.mkdtemp(prefix="backupd-bench-"))
    env = {**os.environ, "BACKUPD_DATA_DIR": str(work / "data")}
    for key in ("BACKUPD_STORE", "BACKUPD_ENCRYPT_TO"):  # -o runs and pg_* never see a store; nothing is encrypted
        env.pop(key, None)
    table_flags = [f"--table=public.{t}" for t in DEFAULT_TABLES]
    stores: list[StoreRun] = []
    for i, spec in enumerate(args.store or ["dir"]):
        label = spec if spec != "dir" else "directory"
        if spec == "dir":
            spec = str(work / f"store{i}")
        store_env = {**env, "BACKUPD_STORE": spec, "BACKUPD_DATA_DIR": str(work / f"data-store{i}")}
        if spec.startswith("s3://"):
            if args.s3_endpoint:
                store_env["BACKUPD_S3_ENDPOINT"] = args.s3_endpoint
            label = spec
        if any(run.label == label for run in stores):
            label = f"{label} #{i + 1}"
        stores.append(StoreRun(label, spec, store_env, [], [], {}, written=[]))
    loadavg_start = os.getloadavg()
    print(f"server {server_url.split('@')[-1]}  tools {bin_dir}  events {args.events:,}  repeat {args.repeat}"
          f"  stores {', '.join(s.label for s in stores)}  load {loadavg_start[0]:.2f}")

    names = {part: f"{args.db_prefix}_{part}" for part in ("src", "small", "target")}

    @atexit.register  # also when a step fails (sys.exit): a 1M-event run leaves gigabytes otherwise
    def clean_up() -> None:
        if not args.keep:
            for name in names.values():
                drop(server_url, name)
        shutil.rmtree(work, ignore_errors=True)

    src = recreate(server_url, names["src"])
    small = recreate(server_url, names["small"])
    n10 = max(args.events // 10, 1)
    for url, n in ((src, args.events), (small, n10)):
        seconds = timed([*BACKUPD, "--database-url", url, "demo-data", "--events", str(n)], env)
        print(f"demo-data {n:,} events: {seconds:.1f} s")
    with psycopg.connect(src, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        server_version = conn.info.server_version
    ids = {"n": id_range(src), "n10": id_range(small)}
    tools = ["backupd", "pg_restore_single_transaction"] + (["pg_restore_dir"] if args.pg_jobs else [])
    watched: dict[str, dict[str, list[Watched]]] = {"n": {t: [] for t in tools}, "n10": {t: [] for t in tools[:2]}}

    def probed(size: str, target: str):
        return watch(target, DEFAULT_TABLES, ids[size], enabled=args.probes)

    archive = work / "bench.zip"
    dump = work / "bench.dump"
    dump_dir = work / "bench.dir"
    runs: dict[str, list[float]] = {"backupd_backup": [], "pg_dump": [], "backupd_restore": [], "pg_restore": []}
    if args.pg_jobs:
        runs.update({"pg_dump_dir": [], "pg_restore_dir": []})
    rss: dict[str, int] = {}
    swap_lock: list[float] = []
    swap_lock_n10: list[float] = []
    # pg_restore takes no safety backup of the rows it replaces; neither does backupd here (a safety backup
    # is a whole backup more, and it would become the store's --latest)
    restore_help = subprocess.run([*BACKUPD, "restore", "--help"], capture_output=True, text=True, env=env).stdout
    restore_flags = ["--no-safety-backup"] if "--no-safety-backup" in restore_help else []
    for i in range(args.repeat):
        seconds, peak, _ = peak_rss([*BACKUPD, "--database-url", src, "backup", "-o", str(archive)], env)
        runs["backupd_backup"].append(seconds)
        rss["backup_n"] = max(rss.get("backup_n", 0), peak)
        seconds = timed([str(bin_dir / "pg_dump"), "-Fc", *table_flags, "-f", str(dump), "-d", src])
        runs["pg_dump"].append(seconds)
        line = f"  run {i + 1}: backup {runs['backupd_backup'][-1]:.1f} s  pg_dump {seconds:.1f} s"
        for run in stores:
            m = measure([*BACKUPD, "--database-url", src, "backup"], run.env,
                        watch_disk=Path(run.env["BACKUPD_DATA_DIR"]))
            run.backup.append(m.seconds)
            run.rss["backup"] = max(run.rss.get("backup", 0), m.peak_rss_kib)
            run.disk_peak = max(run.disk_peak, m.peak_disk_bytes or 0)
            location = m.stdout.split()[0]
            name = open_bench_store(run).name_of(location)
            assert name, f"bench: backup wrote {location}, not in {run.spec}"
            run.written.append(name)  # type: ignore[union-attr]
            line += (f"  [{run.label}] {m.seconds:.1f} s, {m.peak_rss_kib / 1024:.0f} MiB,"
                     f" disk {(m.peak_disk_bytes or 0) / 2**20:.1f} MiB")
        if args.pg_jobs:
            shutil.rmtree(dump_dir, ignore_errors=True)
            seconds = timed([str(bin_dir / "pg_dump"), "-Fd", f"-j{args.pg_jobs}", "-Z1", *table_flags,
                             "-f", str(dump_dir), "-d", src])
            runs["pg_dump_dir"].append(seconds)
            line += f"  pg_dump -Fd -j{args.pg_jobs} -Z1 {seconds:.1f} s"
        print(line, flush=True)
    pg_restore_1 = [str(bin_dir / "pg_restore"), "--clean", "--if-exists", "--single-transaction", "--no-owner"]

    def clone(template: str) -> str:
        """A fresh copy of the source with every write of the machine on disk (CREATE DATABASE writes the
        copy through the WAL and shared buffers, and the previous run leaves gigabytes to flush), so that no
        tool is timed while the server or the kernel writes out what came before it."""
        url = recreate(server_url, names["target"], template=names[template])
        try:
            admin(server_url, sql.SQL("CHECKPOINT"))
        except psycopg.errors.InsufficientPrivilege:  # neither superuser nor pg_checkpoint: go on unflushed
            pass
        os.sync()
        return url

    def restore_pair(i: int, size: str, archive: Path, dump: Path, times: dict[str, list[float]],
                     locks: list[float]) -> str:
        """backupd's restore and `pg_restore --single-transaction`, each into a fresh clone, in turn order
        (backupd first in odd runs, pg_restore first in even ones, so neither always follows the same thing);
        returns their part of the run's line."""
        template = "src" if size == "n" else "small"
        parts: dict[str, str] = {}

        def backupd_restore() -> None:
            target = clone(template)
            with probed(size, target) as w:
                m = measure([*BACKUPD, "--database-url", target, "restore", str(archive), "--yes", *restore_flags],
                            env)
            times["backupd_restore"].append(m.seconds)
            watched[size]["backupd"].append(w)
            rss[f"restore_{size}"] = max(rss.get(f"restore_{size}", 0), m.peak_rss_kib)
            match = re.search(r"tables locked for ([0-9.]+)s", m.stdout)
            if match:
                locks.append(float(match.group(1)))
            parts["backupd"] = f" restore {m.seconds:.1f} s{watched_text(w)}"

        def pg_restore() -> None:
            target = clone(template)
            with probed(size, target) as w:
                seconds = timed([*pg_restore_1, "-d", target, str(dump)])
            times["pg_restore"].append(seconds)
            watched[size]["pg_restore_single_transaction"].append(w)
            parts["pg_restore"] = f"  pg_restore {seconds:.1f} s{watched_text(w)}"

        for step in (backupd_restore, pg_restore) if i % 2 == 0 else (pg_restore, backupd_restore):
            step()
        return parts["backupd"] + parts["pg_restore"]

    for i in range(args.repeat):
        line = f"  run {i + 1}:" + restore_pair(i, "n", archive, dump, runs, swap_lock)
        for run in stores:
            target = clone("src")
            with probed("n", target) as w:
                m = measure([*BACKUPD, "--database-url", target, "restore", "--latest", "--yes", *restore_flags],
                            run.env)
            run.restore.append(m.seconds)
            run.watched.append(w)
            run.rss["restore"] = max(run.rss.get("restore", 0), m.peak_rss_kib)
            line += f"  [{run.label}] {m.seconds:.1f} s, {m.peak_rss_kib / 1024:.0f} MiB"
        if args.pg_jobs:
            # pg_restore cannot combine -j with --single-transaction; --clean --if-exists as above
            target = clone("src")
            with probed("n", target) as w:
                seconds = timed([str(bin_dir / "pg_restore"), "--clean", "--if-exists", f"-j{args.pg_jobs}",
                                 "--no-owner", "-d", target, str(dump_dir)])
            runs["pg_restore_dir"].append(seconds)
            watched["n"]["pg_restore_dir"].append(w)
            line += f"  pg_restore -j{args.pg_jobs} {seconds:.1f} s{watched_text(w)}"
        print(line, flush=True)

    # N/10: the backup's RSS, then backupd's restore and pg_restore --single-transaction again (R times),
    # so that lock holds, reader waits and the restore's RSS can be compared across a 10x size change
    small_archive, small_dump = work / "s.zip", work / "s.dump"
    _, rss["backup_n10"], _ = peak_rss([*BACKUPD, "--database-url", small, "backup", "-o", str(small_archive)], env)
    timed([str(bin_dir / "pg_dump"), "-Fc", *table_flags, "-f", str(small_dump), "-d", small])
    runs_n10: dict[str, list[float]] = {"backupd_restore": [], "pg_restore": []}
    for i in range(args.repeat):
        print(f"  N/10 run {i + 1}:" + restore_pair(i, "n10", small_archive, small_dump, runs_n10, swap_lock_n10),
              flush=True)
    floor = server_floor(bin_dir, src)
    for run in stores:
        store = open_bench_store(run)
        run.archive_bytes = store.info(run.written[-1]).size  # type: ignore[index]
        for name in run.written or []:
            store.delete(name)
    loadavg_end = os.getloadavg()

    med = {k: statistics.median(v) for k, v in runs.items()}
    med_n10 = {k: statistics.median(v) for k, v in runs_n10.items()}
    restore_lock: dict[str, dict] = {}
    reader_probe: dict[str, dict] = {}
    for size, events in (("n", args.events), ("n10", n10)):
        restore_lock[size] = {"events": events}
        reader_probe[size] = {"events": events, "interval_s": 0.02, "id_range": list(ids[size])}
        for tool, seen in watched[size].items():
            restore_lock[size][tool], reader_probe[size][tool] = summarize(seen)
    dump_dir_bytes = sum(p.stat().st_size for p in dump_dir.iterdir()) if args.pg_jobs else None
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "server": server_version,
        "events": args.events,
        "repeat": args.repeat,
        "loadavg_start_end": [round(loadavg_start[0], 2), round(loadavg_end[0], 2)],
        "seconds_median": med,
        "seconds_all": runs,
        "backup_ratio": med["backupd_backup"] / med["pg_dump"],
        "restore_ratio": med["backupd_restore"] / med["pg_restore"],
        "server_floor_seconds": floor,
        "peak_rss_mib": {k: round(v / 1024, 1) for k, v in rss.items()},
        "rss_growth_n10_to_n": rss["backup_n"] / rss["backup_n10"],
        "restore_rss_growth_n10_to_n": rss["restore_n"] / rss["restore_n10"],
        "archive_bytes": archive.stat().st_size,
        "archive_uncompressed_bytes": uncompressed_bytes(archive),
        "dump_bytes": dump.stat().st_size,
        "size_ratio": archive.stat().st_size / dump.stat().st_size,
        "swap_lock_seconds_median": statistics.median(swap_lock) if swap_lock else None,
        "n10": {"events": n10, "seconds_median": med_n10, "seconds_all": runs_n10,
                "restore_ratio": med_n10["backupd_restore"] / med_n10["pg_restore"],
                "swap_lock_seconds_median": statistics.median(swap_lock_n10) if swap_lock_n10 else None},
        # per size (n, n10) and per tool (backupd, pg_restore_single_transaction, pg_restore_dir): medians
        # over the runs, and each run (None with --no-probes); see bench/probes.py
        "restore_lock": restore_lock if args.probes else None,
        "reader_probe": reader_probe if args.probes else None,
        "restore_flags": restore_flags,
        "pg_directory_dump": {"jobs": args.pg_jobs, "compress": 1, "dump_bytes": dump_dir_bytes,
                              "backup_ratio": med["backupd_backup"] / med["pg_dump_dir"],
                              "restore_ratio": med["backupd_restore"] / med["pg_restore_dir"]} if args.pg_jobs else None,
        "stores": {
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
            for run in stores
        },
    }
    rows = [
        ("backup (median s)", f"{med['backupd_backup']:.2f}", f"{med['pg_dump']:.2f}", f"{result['backup_ratio']:.2f}x", "<= 1.30x"),
        ("restore (median s)", f"{med['backupd_restore']:.2f}", f"{med['pg_restore']:.2f}", f"{result['restore_ratio']:.2f}x", "<= 1.50x"),
        ("size (MB)", f"{result['archive_bytes'] / 1e6:.1f}", f"{result['dump_bytes'] / 1e6:.1f}", f"{result['size_ratio']:.2f}x", "<= 1.50x"),
        ("peak RSS backup N (MiB)", f"{result['peak_rss_mib']['backup_n']:.0f}", "", "", "<= 150"),
        ("peak RSS backup N/10 (MiB)", f"{result['peak_rss_mib']['backup_n10']:.0f}", "", f"{result['rss_growth_n10_to_n']:.2f}x", "<= 1.30x"),
        ("peak RSS restore N (MiB)", f"{result['peak_rss_mib']['restore_n']:.0f}", "", "", "<= 100"),
        ("peak RSS restore N/10 (MiB)", f"{result['peak_rss_mib']['restore_n10']:.0f}", "",
         f"{result['restore_rss_growth_n10_to_n']:.2f}x", "<= 1.30x"),
        ("restore N/10 (median s)", f"{med_n10['backupd_restore']:.2f}", f"{med_n10['pg_restore']:.2f}",
         f"{result['n10']['restore_ratio']:.2f}x", ""),
        ("server floor: export COPY (s)", f"{floor:.2f}", "", "", ""),
        ("swap lock held (median s)", f"{result['swap_lock_seconds_median']:.2f}" if swap_lock else "n/a", "", "", ""),
    ]
    if args.pg_jobs:
        j = args.pg_jobs
        rows += [
            (f"backup vs pg_dump -Fd -j{j} -Z1", f"{med['backupd_backup']:.2f}", f"{med['pg_dump_dir']:.2f}",
             f"{med['backupd_backup'] / med['pg_dump_dir']:.2f}x", ""),
            (f"restore vs pg_restore -j{j}", f"{med['backupd_restore']:.2f}", f"{med['pg_restore_dir']:.2f}",
             f"{med['backupd_restore'] / med['pg_restore_dir']:.2f}x", ""),
        ]
    print()
    print(f"{'':32} {'backupd':>10} {'pg_dump/restore':>16} {'ratio':>8} {'bar':>10}")
    for row in rows:
        print(f"{row[0]:32} {row[1]:>10} {row[2]:>16} {row[3]:>8} {row[4]:>10}")
    print()
    print(f"{'store':36} {'backup s':>9} {'ratio':>6} {'restore s':>10} {'ratio':>6} {'RSS b/r MiB':>12} {'disk MiB':>9}")
    for label, r in result["stores"].items():
        print(f"{label[:36]:36} {r['seconds_median']['backup']:>9.2f} {r['backup_ratio']:>5.2f}x"
              f" {r['seconds_median']['restore']:>10.2f} {r['restore_ratio']:>5.2f}x"
              f" {r['peak_rss_mib']['backup']:>5.0f}/{r['peak_rss_mib']['restore']:<6.0f}"
              f" {r['peak_local_disk_mib']:>9.1f}")
    print(f"(archive {result['archive_uncompressed_bytes'] / 2**30:.2f} GiB uncompressed; load average"
          f" {loadavg_start[0]:.2f} at start, {loadavg_end[0]:.2f} at end)")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nIssue 13's figures (medians of {args.repeat}; N/10 and N events):\n")
    print(figures.text(result))
    print("\nFor the README's Performance section:\n")
    print(figures.markdown(result))
    print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
