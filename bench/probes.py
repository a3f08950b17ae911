"""What a restore does to the rest of the database while it runs: lock holds and a reader's waits.

Both run as threads of the benchmark, each on its own autocommit connection to the database being
restored, from just before the restore starts until just after it ends (`watch()`):

- LockSampler polls pg_locks every ~5 ms for granted ACCESS EXCLUSIVE and EXCLUSIVE relation locks
  held by other client backends on that database, and keeps, for each (pid, relation oid, mode), the
  longest run of consecutive samples in which it was held on a restored table. Relations are tracked
  by oid, because a restore may rename tables (a staging table can become public.events, the old one
  move aside), and every schema.name an oid is seen under is recorded. A sample's lock is on a
  restored table when its oid was one of the set's public tables when the sampler started, or when
  the relation is, in that sample, a public table with one of the set's names, as a reader resolving
  the name would find it. So a new table counts from the moment it is committed under its public
  name (pg_restore -j2 building the primary key of the new public.events, say), and never while it
  is a private staging table (backupd_staging.*, or a table created by a transaction not yet
  committed, which no reader can see: it has no name yet). Indexes and sequences never count.
  A hold is measured from the first to the last sample that saw it, so it is a lower bound by up
  to one sampling gap at each end; `sample_gap_max_s` says how coarse the sampling really was.
- ReaderProbe runs `SELECT * FROM events WHERE id = $1` every 20 ms (fixed cadence; a late query
  starts as soon as the previous one returns) with a random id from the table's id range, and
  records the longest query, the count of queries and of errors. An error (such as "relation does not
  exist" from a restore that is not atomic) is counted, its message kept, and the probe reconnects.
  The statement is never prepared server-side (prepare_threshold=None), so a rebuilt table cannot
  fail it with "cached plan must not change result type".

Neither adds a lock that a restore would wait for longer than one short query: the sampler reads only
the lock and activity views, the probe takes ACCESS SHARE for one index lookup at a time.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

SAMPLER_APP = "bench-lock-sampler"
PROBE_APP = "bench-reader-probe"
MODES = {"AccessExclusiveLock": "access_exclusive", "ExclusiveLock": "exclusive"}

LOCKS_SQL = """
SELECT l.pid, l.relation::bigint, l.mode, a.application_name, n.nspname, c.relname, c.relkind
  FROM pg_locks l
  JOIN pg_stat_activity a ON a.pid = l.pid
  LEFT JOIN pg_class c ON c.oid = l.relation
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE l.locktype = 'relation' AND l.granted
   AND l.mode IN ('AccessExclusiveLock', 'ExclusiveLock')
   AND l.database = %(db)s
   AND l.pid <> pg_backend_pid()
   AND a.backend_type = 'client backend'
   AND a.application_name NOT LIKE 'bench-%%'
"""


@dataclass
class Hold:
    pid: int
    oid: int
    mode: str  # access_exclusive | exclusive
    application_name: str
    names: str  # every schema.name the relation was seen under ("a → b" when renamed)
    seconds: float


class LockSampler(threading.Thread):
    """Longest contiguous hold of ACCESS EXCLUSIVE / EXCLUSIVE per (pid, relation, mode); see module doc."""

    def __init__(self, url: str, tables: Sequence[str], interval: float = 0.005) -> None:
        super().__init__(name="lock-sampler", daemon=True)
        self.url = url
        self.tables = set(tables)
        self.interval = interval
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.start_oids: set[int] = set()
        self.names: dict[int, list[str]] = {}  # oid -> every schema.name it was seen under, in order
        self.apps: dict[int, str] = {}
        self.longest: dict[tuple[int, int, str], float] = {}
        self.samples = 0
        self.gap_max = 0.0

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True, application_name=SAMPLER_APP) as conn:
                db = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
                self.start_oids = {
                    oid
                    for (oid,) in conn.execute(
                        "SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)",
                        [sorted(self.tables)],
                    )
                }
                self.ready.set()
                self._poll(conn, db)
        except BaseException as exc:  # reported by the caller, never fatal to the restore being measured
            self.error = exc
            self.ready.set()

    def _poll(self, conn: psycopg.Connection, db: int) -> None:
        open_: dict[tuple[int, int, str], tuple[float, float]] = {}  # key -> (first seen, last seen)
        previous = None
        while True:
            stopping = self.stop_event.is_set()  # one last sample after the restore ended
            before = time.perf_counter()
            rows = conn.execute(LOCKS_SQL, {"db": db}, prepare=True).fetchall()
            now = (before + time.perf_counter()) / 2
            if previous is not None:
                self.gap_max = max(self.gap_max, now - previous)
            previous = now
            self.samples += 1
            seen = set()
            for pid, oid, mode, app, schema, name, relkind in rows:
                names = self.names.setdefault(oid, [])
                if name is not None and f"{schema}.{name}" not in names:
                    names.append(f"{schema}.{name}")
                restored = schema == "public" and name in self.tables and relkind in ("r", "p")
                if oid not in self.start_oids and not restored:
                    continue
                key = (pid, oid, MODES[mode])
                seen.add(key)
                self.apps.setdefault(pid, app)
                first, _ = open_.get(key, (now, now))
                open_[key] = (first, now)
            for key in [k for k in open_ if k not in seen]:
                first, last = open_.pop(key)
                self.longest[key] = max(self.longest.get(key, 0.0), last - first)
            if stopping:
                break
            self.stop_event.wait(max(0.0, self.interval - (time.perf_counter() - before)))
        for key, (first, last) in open_.items():
            self.longest[key] = max(self.longest.get(key, 0.0), last - first)

    def holds(self) -> list[Hold]:
        out = []
        for (pid, oid, mode), seconds in self.longest.items():
            label = " → ".join(self.names.get(oid) or [f"(oid {oid}, never visible)"])
            out.append(Hold(pid, oid, mode, self.apps.get(pid, ""), label, seconds))
        return sorted(out, key=lambda h: h.seconds, reverse=True)

    def report(self) -> dict:
        holds = self.holds()
        best = {mode: max((h.seconds for h in holds if h.mode == mode), default=0.0) for mode in MODES.values()}
        return {
            "access_exclusive_max_s": round(best["access_exclusive"], 3),
            "exclusive_max_s": round(best["exclusive"], 3),
            "samples": self.samples,
            "sample_gap_max_s": round(self.gap_max, 3),
            "longest_holds": [  # the few longest, for reading the run
                {
                    "table": h.names,
                    "oid": h.oid,
                    "mode": h.mode,
                    "seconds": round(h.seconds, 3),
                    "application_name": h.application_name,
                }
                for h in holds[:6]
            ],
            "error": None if self.error is None else str(self.error).strip().splitlines()[0],
        }


class ReaderProbe(threading.Thread):
    """A reader of one row by primary key every `interval` seconds; see module doc."""

    def __init__(self, url: str, id_range: tuple[int, int], interval: float = 0.02, seed: int = 13) -> None:
        super().__init__(name="reader-probe", daemon=True)
        self.url = url
        self.id_range = id_range
        self.interval = interval
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.conn: psycopg.Connection | None = None
        self.queries = 0
        self.found = 0
        self.errors: Counter[str] = Counter()
        self.max_wait = 0.0
        self.max_wait_at = 0.0  # seconds after the probe started
        self.started = 0.0

    def _connect(self) -> psycopg.Connection | None:
        try:
            conn = psycopg.connect(self.url, autocommit=True, application_name=PROBE_APP, connect_timeout=10)
            conn.prepare_threshold = None
            return conn
        except psycopg.Error as exc:
            self.errors[f"connect: {_first_line(exc)}"] += 1
            return None

    def run(self) -> None:
        self.started = tick = time.perf_counter()
        while not self.stop_event.is_set():
            if self.conn is None:
                self.conn = self._connect()
            if self.conn is not None:
                key = self.rng.randint(*self.id_range)
                before = time.perf_counter()
                try:
                    self.found += len(self.conn.execute("SELECT * FROM events WHERE id = %s", [key]).fetchall())
                except psycopg.Error as exc:
                    self.errors[_first_line(exc)] += 1
                    self.conn.close()
                    self.conn = None
                waited = time.perf_counter() - before
                self.queries += 1
                if waited > self.max_wait:
                    self.max_wait, self.max_wait_at = waited, before - self.started
            tick += self.interval
            now = time.perf_counter()
            if tick < now:  # late (the query waited): the next one starts now, the cadence from here
                tick = now
            self.stop_event.wait(tick - now)
        if self.conn is not None:
            self.conn.close()

    def stop(self, timeout: float = 60.0) -> None:
        self.stop_event.set()
        self.join(timeout)
        conn = self.conn
        if self.is_alive() and conn is not None:  # still waiting although the restore has ended
            conn.cancel()
            self.join(10)

    def report(self) -> dict:
        return {
            "max_wait_s": round(self.max_wait, 3),
            "max_wait_at_s": round(self.max_wait_at, 3),
            "queries": self.queries,
            "rows_found": self.found,
            "errors": sum(self.errors.values()),
            "error_messages": dict(self.errors.most_common(5)),
        }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class Watched:
    """What `watch()` saw; filled in when its block ends."""

    restore_lock: dict = field(default_factory=dict)
    reader_probe: dict = field(default_factory=dict)


@contextmanager
def watch(url: str, tables: Sequence[str], id_range: tuple[int, int], *, enabled: bool = True) -> Iterator[Watched]:
    """Run the lock sampler and the reader probe on `url` around the block (nothing when not enabled)."""
    watched = Watched()
    if not enabled:
        yield watched
        return
    sampler = LockSampler(url, tables)
    probe = ReaderProbe(url, id_range)
    sampler.start()
    sampler.ready.wait(30)  # the start oids are read before the restore can change anything
    probe.start()
    try:
        yield watched
    finally:
        probe.stop()
        sampler.stop_event.set()
        sampler.join(30)
        watched.restore_lock = sampler.report()
        watched.reader_probe = probe.report()
