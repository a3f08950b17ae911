"""The restore engine: validate, stage and verify everything, then swap in one transaction.

1. Validate (nothing touched yet): the archive's structure, manifest and version (ArchiveReader);
   its table set against the configured one; every table's columns against the live table; the
   free disk space against the archive's declared sizes.
2. Stage (no lock on live tables): each member is streamed with COPY FROM STDIN, in ~32 MiB pieces
   cut at line boundaries, into UNLOGGED one-column tables of `backupd_staging`, hashed and
   counted on the way by the archive reader (a mismatch fails with its own message). While the
   next piece loads, another worker converts the last one into a typed chunk table shaped LIKE
   the live table, so parse, type, NOT NULL and CHECK errors surface here, naming table and line.
3. Swap (one transaction, retried whole while the tables are busy): lock the set in EXCLUSIVE
   mode, which blocks writers but not readers; refuse if rows of tables outside the set would be
   deleted or orphaned; DELETE the old rows children-first and INSERT the new ones parents-first
   (one statement per typed chunk), with indexes and foreign keys kept and maintained row by row;
   tables referenced from outside the set are merged by primary key instead (update changed
   rows, insert new ones, delete the rest). Then verify the counts, raise the sequences, COMMIT,
   and ANALYZE and VACUUM (the deleted rows) on parallel connections.

Plain readers are never blocked and never see a mix: until COMMIT they see the old rows,
afterwards the new; a REPEATABLE READ transaction that began before the COMMIT keeps seeing
all the old rows, because DELETE, unlike TRUNCATE, is MVCC-safe. Given up for this: TRUNCATE
(such a transaction would see the tables empty), and ACCESS EXCLUSIVE to drop and rebuild
indexes and foreign keys around the load (faster, but every reader queues behind that lock, and
a reader holding one table of the set while it waits for another deadlocks with the swap; with
readers running multi-table transactions back to back, retries never found a moment to lock
them all). Any lock wait over a short per-attempt lock_timeout (or a deadlock with a writer)
rolls the attempt back unchanged; the swap retries with random back-off until `lock_timeout`,
then fails with "tables are busy". The price: the swap takes about twice as long as TRUNCATE
and reload (writers wait for it), and the old rows take up room in the tables until the VACUUM.
The caller must hold the operation lock (`locking.operation_lock`) so backups and restores never
overlap; the CLI and the API take it before calling `restore_from_backup`.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from . import staging
from .archive import ArchiveReader, Manifest, ManifestTable
from .catalog import ForeignKey, Table, describe_tables, outside_references
from .changes import TableChanges, table_changes
from .config import Settings
from .database import connect
from .errors import ArchiveError, BackupdError, RestoreError
from .progress import MonotonicProgress, ProgressCallback
from .staging import StagedColumn, StagedTable

# The swap's deadline: how long it keeps retrying to get its locks while other sessions hold
# conflicting ones (writers, DDL, VACUUM; never plain readers) before the restore gives up.
DEFAULT_LOCK_TIMEOUT = "60s"
# Each attempt waits at most this long for any one lock (doubling per failed attempt up to the
# maximum), so writers queued behind a waiting attempt are not held up for long. The maximum is
# above PostgreSQL's default deadlock_timeout (1s), so a long attempt lets the server's deadlock
# check run, which also cancels an autovacuum that blocks us.
FIRST_ATTEMPT_LOCK_TIMEOUT = 0.2
MAX_ATTEMPT_LOCK_TIMEOUT = 2.0
# Random back-off between attempts: uniform up to BACKOFF * 2**attempt, at most MAX_BACKOFF.
BACKOFF = 0.05
MAX_BACKOFF = 1.0
# Staging needs room for the raw lines and the typed rows; the live tables then grow by about the
# same again until vacuum. Refuse early rather than fill the server's disk halfway through.
DISK_FACTOR = 2.5
DISK_MARGIN = 64 * 1024 * 1024
PROGRESS_INTERVAL = 0.2

log = logging.getLogger(__name__)

# Share of the progress bar per stage (percent).
_VALIDATED, _STAGED, _CONVERTED, _SWAPPED = 2, 45, 80, 97


@dataclass(frozen=True)
class RestoreResult:
    items_restored: dict[str, int]  # rows now in each replaced table (what a dry run would restore)
    manifest: Manifest
    seconds: float
    swap_lock_seconds: float  # how long the swap held EXCLUSIVE on the set (writers waited, readers did not)
    staging_seconds: float
    changes: dict[str, TableChanges] = field(default_factory=dict)  # archive vs live, before the swap
    dry_run: bool = False


def restore_from_backup(
    database_url: str,
    archive_path: Path | str,
    *,
    tables: Sequence[str] | None = None,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    before_swap: Callable[[list[str]], None] | None = None,
    progress: ProgressCallback | None = None,
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT,
    workers: int | None = None,
) -> RestoreResult:
    """Replace the rows of the table set with the archive's, all or nothing.

    `tables` defaults to the configured set (BACKUPD_TABLES). The caller holds the operation lock.
    `only` replaces just those tables of the archive (CONTRACT §11; the out-of-set rule protects
    the rest). Every restore reports `changes` (computed from the staged rows before the swap);
    a `dry_run` stops there and changes nothing. `before_swap(keys)` runs after everything is
    verified and before any lock is taken (the safety backup); if it raises, nothing changes.
    `lock_timeout` is the swap's deadline (seconds, or PostgreSQL syntax such as '60s' or '500ms';
    0 means no deadline): it retries while sessions holding conflicting locks (writers, DDL, never
    plain readers) keep it from locking the set, then fails with "tables are busy".
    Raises ArchiveError for a bad archive, RestoreError when the restore is refused or fails;
    either way the database is unchanged and the staging schema is gone.
    """
    started = time.monotonic()
    _seconds(lock_timeout)  # a malformed value fails here, not after staging
    names = list(tables) if tables is not None else list(Settings().tables)
    workers = workers or min(4, (os.cpu_count() or 2) + 1)  # one loads while the others convert
    with ArchiveReader(archive_path) as reader:
        tracker = MonotonicProgress(progress, len(only) if only else len(reader.manifest.contents))
        tracker.report("validating", 0, "Validating archive", 0)
        with connect(database_url, application_name="backupd-restore") as conn:
            _session_setup(conn)
            plans = _validate(conn, reader, names, only)
            tracker.report("validating", _VALIDATED, "Validating archive", 0)
            try:
                staging.drop_schema(conn)  # leftovers of a crashed run
                staging.create_schema(conn)
                stage_started = time.monotonic()
                _Stager(database_url, reader, plans, tracker, workers, conn).run()
                staging_seconds = time.monotonic() - stage_started
                tracker.report("restoring", _CONVERTED, "Comparing with the live tables", len(plans))
                changes = {p.key: table_changes(conn, p) for p in plans}
                swap_seconds = 0.0
                if not dry_run:
                    if before_swap is not None:
                        tracker.report("restoring", _CONVERTED, "Safety backup", len(plans))
                        before_swap([p.key for p in plans])
                    tracker.report("restoring", _CONVERTED, "Swapping tables", len(plans))
                    swap_seconds = _swap(conn, plans, lock_timeout)
                    tracker.report("restoring", _SWAPPED, "Analyzing tables", len(plans))
            finally:
                _drop_staging_quietly(conn, database_url)
        if not dry_run:
            analyze_started = time.monotonic()
            _after_commit(database_url, plans, workers)
            log.debug("analyze %.2fs", time.monotonic() - analyze_started)
    tracker.finish("completed", "Dry run complete" if dry_run else "Restore complete")
    return RestoreResult(
        items_restored={p.key: p.count for p in plans},
        manifest=reader.manifest,
        seconds=time.monotonic() - started,
        swap_lock_seconds=swap_seconds,
        staging_seconds=staging_seconds,
        changes=changes,
        dry_run=dry_run,
    )


def _session_setup(conn: psycopg.Connection) -> None:
    """No statement timeouts for long loads; and let the server abort our work soon after the
    client dies (SIGKILL), instead of finishing a statement nobody will commit."""
    conn.execute("SET statement_timeout = 0")
    conn.execute("SET idle_in_transaction_session_timeout = 0")
    conn.execute("SET work_mem = '64MB'")
    if conn.info.server_version >= 140000:
        conn.execute("SET client_connection_check_interval = 1000")


def _drop_staging_quietly(conn: psycopg.Connection, database_url: str) -> None:
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        staging.drop_schema(conn)
        return
    except psycopg.Error:
        pass
    try:  # the main connection broke: try once more on a fresh one (else the next run cleans up)
        with connect(database_url, application_name="backupd-restore-cleanup") as fresh:
            fresh.execute("SET lock_timeout = '10s'")
            staging.drop_schema(fresh)
    except (psycopg.Error, BackupdError):
        pass


# --------------------------------------------------------------------------------------------
# Validation


def _validate(conn: psycopg.Connection, reader: ArchiveReader, names: list[str],
              only: Sequence[str] | None = None) -> list[StagedTable]:
    archived = set(reader.manifest.contents)
    if only:  # a subset of the archive's tables: each must be in it; the others are left alone
        unknown = [t for t in only if t not in archived]
        if unknown:
            raise RestoreError(f"tables not in the archive: {', '.join(unknown)}")
        names = list(only)
    live = describe_tables(conn, names)
    configured = {t.key for t in live}
    missing = sorted(configured - archived)
    extra = sorted(archived - configured) if not only else []
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"has tables that are not in the set: {', '.join(extra)}")
        raise RestoreError(
            f"the archive's tables do not match the configured table set ({', '.join(sorted(configured))}): "
            + "; ".join(parts)
        )
    plans = [
        StagedTable(
            index=i,
            table=table,
            count=reader.manifest.contents[table.key].count,
            declared_bytes=reader.declared_bytes(table.key),
            columns=_compatible_columns(table, reader.manifest.contents[table.key]),
            sequences=dict(reader.manifest.contents[table.key].sequences or {}),
        )
        for i, table in enumerate(live)
    ]
    _check_disk(conn, reader.total_declared_bytes())
    return plans


def _compatible_columns(table: Table, entry: ManifestTable) -> list[StagedColumn]:
    """The archive's columns mapped onto the live table; a clear error for any difference.

    A live generated column may be absent from the archive (PostgreSQL recomputes it); anything
    else missing, extra, renamed or retyped would silently lose or invent data, so it is refused.
    """
    if entry.columns is None:  # a seed-style manifest without column info: trust the live table
        return [StagedColumn(c, as_text=False) for c in table.columns]
    archived = {c.name: c for c in entry.columns}
    if len(archived) != len(entry.columns):
        raise ArchiveError(f"invalid manifest: duplicate column in {table.key}")
    live = {c.name: c for c in table.columns}
    for name in archived:
        if name not in live:
            raise RestoreError(
                f"column mismatch in {table.key}: the archive has column {name!r}, the database table does not"
            )
    staged: list[StagedColumn] = []
    for col in table.columns:
        arch = archived.get(col.name)
        if arch is None:
            if col.generated:
                continue
            raise RestoreError(
                f"column mismatch in {table.key}: the database table has column {col.name!r}, the archive does not"
            )
        if arch.type != col.type_sql:
            raise RestoreError(
                f"column mismatch in {table.key}.{col.name}: archived as {arch.type}, the database has {col.type_sql}"
            )
        if bool(arch.generated) != col.generated:
            what = "generated" if col.generated else "not generated"
            raise RestoreError(f"column mismatch in {table.key}.{col.name}: it is {what} in the database")
        as_text = arch.encoding == "text"
        if as_text and not col.carried_as_text:
            raise ArchiveError(f"invalid manifest: {table.key}.{col.name} has text encoding but is not json")
        staged.append(StagedColumn(col, as_text=as_text))
    return staged


def _check_disk(conn: psycopg.Connection, declared: int) -> None:
    """When the server runs on this machine, make sure staging fits on its disk."""
    try:
        row = conn.execute(
            "SELECT current_setting('data_directory'), inet_server_addr()::text"
        ).fetchone()
    except psycopg.Error:  # not allowed to read data_directory: nothing to check against
        return
    data_dir, addr = row[0], row[1]
    if addr not in (None, "127.0.0.1/32", "::1/128") or not os.path.isdir(data_dir):
        return
    need = int(declared * DISK_FACTOR) + DISK_MARGIN
    free = shutil.disk_usage(data_dir).free
    if free < need:
        raise RestoreError(
            f"not enough free disk space on the database server: the restore needs about "
            f"{need // 2**20} MiB, {free // 2**20} MiB are free"
        )


# --------------------------------------------------------------------------------------------
# Staging


_COPY_LINE = re.compile(r"line (\d+)")


class _Stager:
    """Loads and converts every member on a small pool of worker connections.

    A member is copied in pieces (cut at line boundaries); each committed piece is converted by
    another worker while the next one loads, then dropped. Only the main thread submits work and
    reports progress; the first error cancels everything else and is the one raised.
    """

    def __init__(self, database_url: str, reader: ArchiveReader, plans: list[StagedTable],
                 tracker: MonotonicProgress, workers: int, main: psycopg.Connection) -> None:
        self.database_url = database_url
        self.reader = reader
        self.plans = plans
        self.tracker = tracker
        self.workers = workers
        self.main = main
        self.cancelled = threading.Event()
        self.ready: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()  # conversions to submit
        self._local = threading.local()
        self._conns: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self.loaded_tables = 0
        self.total_bytes = sum(p.declared_bytes for p in plans) or 1

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.database_url, application_name="backupd-restore")
            _session_setup(conn)
            with self._lock:
                self._conns.append(conn)
            self._local.conn = conn
        return conn

    def run(self) -> None:
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="backupd-restore")
        biggest_first = sorted(self.plans, key=lambda p: -p.declared_bytes)
        pending: set[Future[None]] = {pool.submit(self._load, plan) for plan in biggest_first}
        error: BaseException | None = None
        try:
            self._report()
            while pending:
                done, pending = wait(pending, timeout=PROGRESS_INTERVAL / 2, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        fut.result()
                    except BaseException as exc:  # noqa: BLE001 - re-raised below, the first one wins
                        if error is None and not isinstance(exc, _Cancelled):
                            error = exc
                        self._cancel(pending)
                while not self.ready.empty():
                    task = self.ready.get()
                    if not self.cancelled.is_set():
                        pending.add(pool.submit(task))
                self._report()
        except BaseException as exc:  # KeyboardInterrupt while waiting
            error = error or exc
            self._cancel(pending)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for conn in self._conns:
                conn.close()
        if error is not None:
            raise error
        for plan in self.plans:
            if plan.converted_rows != plan.count:  # cannot happen unless a piece went missing
                raise RestoreError(f"{plan.key}: {plan.converted_rows} rows converted, the archive declares {plan.count}")
            staging.create_typed_view(self.main, plan)

    def _cancel(self, pending: set[Future[None]]) -> None:
        self.cancelled.set()
        for fut in pending:
            fut.cancel()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.cancel_safe()
            except (psycopg.Error, AttributeError):
                pass

    def _report(self) -> None:
        staged = sum(p.staged_bytes for p in self.plans)
        converted = sum(p.converted_bytes for p in self.plans)
        percent = (_VALIDATED + (_STAGED - _VALIDATED) * staged / self.total_bytes
                   + (_CONVERTED - _STAGED) * converted / self.total_bytes)
        loading = [p.key for p in self.plans if p.state in ("waiting", "loading")]
        converting = [p.key for p in self.plans if p.state == "converting"]
        step = f"Loading {loading[0]}" if loading else f"Converting {converting[0]}" if converting else "Converting rows"
        self.tracker.report("restoring", percent, step, self.loaded_tables)

    def _load(self, plan: StagedTable) -> None:
        """COPY one member, piece by piece, hashed and counted by the archive reader on the way."""
        if self.cancelled.is_set():
            return
        plan.state = "loading"
        conn = self._conn()
        load_started = time.monotonic()
        chunks = iter(self.reader.member_chunks(plan.key))
        pieces = _Pieces(chunks, staging.PIECE_BYTES)
        first_line = 1
        n = 0
        while True:
            staging.create_raw_table(conn, plan, n)
            try:
                with conn.cursor() as cur:
                    with cur.copy(staging.copy_raw_sql(plan, n)) as copy:
                        for data in pieces.next_piece():
                            if self.cancelled.is_set():
                                raise _Cancelled
                            copy.write(data)
                            plan.staged_bytes += len(data)
                    rows = cur.rowcount
            except psycopg.Error as exc:
                if self.cancelled.is_set():
                    raise _Cancelled from exc
                _drain(chunks)  # a corrupted member explains itself better than the COPY error does
                match = _COPY_LINE.search(exc.diag.context or "")
                where = f" line {first_line - 1 + int(match.group(1))}" if match else ""
                raise RestoreError(f"{plan.key}{where}: {exc.diag.message_primary or exc}") from exc
            with self._lock:
                plan.chunks = n + 1
            self.ready.put(lambda n=n, first=first_line, rows=rows, size=pieces.last_size:
                           self._convert(plan, n, first, rows, size))
            first_line += rows
            n += 1
            if pieces.exhausted:
                break
        log.debug("staged %s in %.2fs (%d pieces)", plan.key, time.monotonic() - load_started, n)
        if first_line - 1 != plan.count:
            raise ArchiveError(f"Row count mismatch for {plan.key}: expected {plan.count}, got {first_line - 1}")
        with self._lock:
            self.loaded_tables += 1
            plan.state = "converted" if plan.chunks_done == plan.chunks else "converting"

    def _convert(self, plan: StagedTable, n: int, first_line: int, rows: int, size: int) -> None:
        """Typed rows of one piece; on failure, find and name the first bad line."""
        if self.cancelled.is_set():
            return
        conn = self._conn()
        step = time.monotonic()
        try:
            converted = staging.convert_chunk(conn, plan, n)
        except psycopg.Error as exc:
            if self.cancelled.is_set():
                raise _Cancelled from exc
            bad = staging.first_bad_line(conn, plan, n)
            if bad is None:
                raise RestoreError(f"{plan.key}: {exc.diag.message_primary or exc}") from exc
            raise RestoreError(f"{plan.key} line {first_line - 1 + bad[0]}: {bad[1]}") from exc
        if converted != rows:
            pos = staging.first_non_object_line(conn, plan, n)
            where = f"line {first_line - 1 + pos}" if pos else f"lines {first_line}-{first_line + rows - 1}"
            raise RestoreError(f"{plan.key} {where}: not a JSON object")
        staging.drop_raw_table(conn, plan, n)
        log.debug("converted %s piece %d in %.2fs", plan.key, n, time.monotonic() - step)
        with self._lock:
            plan.converted_rows += converted
            plan.converted_bytes += size
            plan.chunks_done += 1
            if plan.state == "converting" and plan.chunks_done == plan.chunks:
                plan.state = "converted"


class _Pieces:
    """Cuts a member's chunk stream into pieces of about `limit` bytes, at line boundaries."""

    def __init__(self, chunks: Iterator[bytes], limit: int) -> None:
        self.chunks = chunks
        self.limit = limit
        self.carry = b""
        self.exhausted = False
        self.last_size = 0

    def next_piece(self) -> Iterator[bytes]:
        size = 0
        if self.carry:
            data, self.carry = self.carry, b""
            size += len(data)
            yield data
        for chunk in self.chunks:
            if size + len(chunk) >= self.limit:
                cut = chunk.rfind(b"\n") + 1
                if cut:
                    self.carry = chunk[cut:]
                    self.last_size = size + cut
                    yield chunk[:cut]
                    return
            size += len(chunk)
            yield chunk
        self.exhausted = True
        self.last_size = size


class _Cancelled(Exception):
    """Another worker failed first; its error is the one reported."""


def _drain(chunks: object) -> None:
    """Read a member to its end so the reader's checksum/count/truncation check gets its say."""
    try:
        for _ in chunks:  # type: ignore[attr-defined]
            pass
    except ArchiveError:
        raise
    except Exception:  # noqa: BLE001 - any other failure here adds nothing to the COPY error
        pass


# --------------------------------------------------------------------------------------------
# Swap


def _merged_tables(plans: list[StagedTable], outside: list[ForeignKey]) -> set[int]:
    """Tables whose rows cannot all be deleted: referenced from outside the set (the deletes would
    cascade to, or be refused by, rows outside it), and (transitively) every table of the set they
    reference, for the same reason. These are merged by primary key instead."""
    in_set = {p.table.oid: p.table for p in plans}
    merged = {fk.ref_table_oid for fk in outside}
    todo = list(merged)
    while todo:
        table = in_set[todo.pop()]
        for fk in table.foreign_keys:
            if fk.ref_table_oid in in_set and fk.ref_table_oid not in merged:
                merged.add(fk.ref_table_oid)
                todo.append(fk.ref_table_oid)
    for oid in merged:
        if not in_set[oid].primary_key:
            raise RestoreError(
                f"cannot restore {in_set[oid].key}: rows of other tables depend on it and it has no primary key"
            )
    return merged


def _outside_dependants(conn: psycopg.Connection, plans: list[StagedTable], outside: list[ForeignKey]) -> None:
    """Refuse (before anything destructive) when rows outside the set would lose their parent."""
    by_oid = {p.table.oid: p for p in plans}
    by_child: dict[int, list[ForeignKey]] = {}
    for fk in outside:
        by_child.setdefault(fk.table_oid, []).append(fk)
    problems: list[str] = []
    for child_oid, fks in by_child.items():
        lost = [_lost_parent(fk, by_oid[fk.ref_table_oid]) for fk in fks]
        query = sql.SQL("SELECT count(*) FROM ONLY {} AS c WHERE {}").format(
            sql.SQL(fks[0].table), sql.SQL(" OR ").join(lost)
        )
        count = conn.execute(query).fetchone()[0]
        if count:
            parents = ", ".join(sorted({by_oid[fk.ref_table_oid].key for fk in fks}))
            problems.append(f"{count} rows of {fks[0].table} (they reference {parents} rows missing from the backup)")
    if problems:
        raise RestoreError(
            "the restore would delete or orphan " + "; ".join(problems) + "; nothing was changed"
        )


def _lost_parent(fk: ForeignKey, parent: StagedTable) -> sql.Composable:
    """Condition on child row c: it references a parent row that will not survive the restore.

    A parent survives when the archive has the row with the same primary key and the same
    referenced values (a merge updates rows in place, keeping their referenced keys).
    """
    not_null = sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in fk.columns)
    pk = list(parent.table.primary_key)
    if list(fk.ref_columns) == pk or sorted(fk.ref_columns) == sorted(pk):
        match = sql.SQL(" AND ").join(
            sql.SQL("s.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for c, r in zip(fk.columns, fk.ref_columns)
        )
        exists = sql.SQL("SELECT 1 FROM {} AS s WHERE {}").format(parent.typed, match)
    else:
        match = sql.SQL(" AND ").join(
            sql.SQL("p.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for c, r in zip(fk.columns, fk.ref_columns)
        )
        same = sql.SQL(" AND ").join(
            sql.SQL("s.{0} = p.{0}").format(sql.Identifier(k)) for k in dict.fromkeys(pk + list(fk.ref_columns))
        )
        exists = sql.SQL("SELECT 1 FROM ONLY {} AS p JOIN {} AS s ON {} WHERE {}").format(
            parent.table.ident, parent.typed, same, match
        )
    return sql.SQL("({} AND NOT EXISTS ({}))").format(not_null, exists)


def _insert_sql(plan: StagedTable, only_new: bool, source: sql.Composable | None = None) -> sql.Composed:
    """INSERT the staged rows (of `source`, one typed chunk table, else of all of them)."""
    cols = plan.table.insertable_columns
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in cols)
    values = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c.name)) for c in cols)
    overriding = sql.SQL(" OVERRIDING SYSTEM VALUE") if any(c.identity == "a" for c in cols) else sql.SQL("")
    query = sql.SQL("INSERT INTO {} ({}){} SELECT {} FROM {} AS s").format(
        plan.table.ident, names, overriding, values, plan.typed if source is None else source
    )
    if only_new:
        query += sql.SQL(" WHERE NOT EXISTS (SELECT 1 FROM ONLY {} AS l WHERE {})").format(
            plan.table.ident, _pk_match(plan)
        )
    return query


def _pk_match(plan: StagedTable) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("l.{0} = s.{0}").format(sql.Identifier(k)) for k in plan.table.primary_key
    )


def _update_sql(plan: StagedTable) -> sql.Composed | None:
    """Rewrite only rows whose text differs (exact, also for json, -0 and NaN)."""
    cols = [c for c in plan.table.insertable_columns if c.name not in plan.table.primary_key]
    if not cols:
        return None
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in cols)
    new = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c.name)) for c in cols)
    old = sql.SQL(", ").join(sql.SQL("l.{}").format(sql.Identifier(c.name)) for c in cols)
    return sql.SQL(
        "UPDATE ONLY {t} AS l SET ({names}) = ROW({new}) FROM {typed} AS s"
        " WHERE {match} AND ROW({old})::text IS DISTINCT FROM ROW({new})::text"
    ).format(t=plan.table.ident, names=names, new=new, typed=plan.typed, match=_pk_match(plan), old=old)


def _delete_missing_sql(plan: StagedTable) -> sql.Composed:
    return sql.SQL("DELETE FROM ONLY {} AS l WHERE NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
        plan.table.ident, plan.typed, _pk_match(plan)
    )


def _swap(conn: psycopg.Connection, plans: list[StagedTable], lock_timeout: str | float) -> float:
    """Replace the set's rows in one transaction, retried whole while the tables are busy.

    Every statement of the swap is transactional, so an attempt that cannot get a lock within its
    short lock_timeout (or is chosen as a deadlock victim) rolls back having changed nothing, waits
    a random back-off and starts again, until `lock_timeout` (the deadline) is used up. Returns how
    long the successful attempt held the set's EXCLUSIVE lock (writers waited; readers did not).
    """
    deadline = _seconds(lock_timeout)
    started = time.monotonic()
    attempt = 0
    while True:
        left = started + deadline - time.monotonic() if deadline > 0 else MAX_ATTEMPT_LOCK_TIMEOUT
        wait = max(0.01, min(FIRST_ATTEMPT_LOCK_TIMEOUT * 2 ** attempt, MAX_ATTEMPT_LOCK_TIMEOUT, left))
        try:
            return _swap_once(conn, plans, wait)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
            attempt += 1
            pause = random.uniform(0.005, min(MAX_BACKOFF, BACKOFF * 2 ** attempt))
            if deadline > 0 and time.monotonic() + pause >= started + deadline:
                raise RestoreError(
                    f"tables are busy: could not lock them within {_duration_text(lock_timeout)}") from exc
            log.debug("swap attempt %d: %s; again in %.3fs", attempt, exc.diag.message_primary or exc, pause)
            time.sleep(pause)


def _swap_once(conn: psycopg.Connection, plans: list[StagedTable], lock_wait: float) -> float:
    """One attempt at the swap transaction; lock waits longer than `lock_wait` seconds abort it.

    EXCLUSIVE mode blocks writers (and SELECT FOR UPDATE/SHARE) but not plain readers, which keep
    reading the old rows until COMMIT. No DDL runs here (it would need ACCESS EXCLUSIVE, which
    readers queue behind and, holding other tables of the set, deadlock with), so old rows are
    deleted (MVCC-safe, unlike TRUNCATE) and new rows inserted with indexes and foreign keys kept.
    """
    lock_list = sql.SQL(", ").join(p.table.ident for p in plans)
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{round(lock_wait * 1000)}ms")))
            conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(lock_list))
            locked = time.monotonic()
            _replace_rows(conn, plans)
    except psycopg.errors.ForeignKeyViolation as exc:
        detail = " ".join((exc.diag.message_detail or "").split())
        raise RestoreError(f"the archive breaks a foreign key: {exc.diag.message_primary or exc}"
                           + (f" ({detail})" if detail else "")) from exc
    return time.monotonic() - locked


def _replace_rows(conn: psycopg.Connection, plans: list[StagedTable]) -> None:
    """Inside the locked swap transaction: every table of the set ends up with the archive's rows."""
    outside = outside_references(conn, [p.table for p in plans])
    _outside_dependants(conn, plans, outside)
    merged = _merged_tables(plans, outside)
    replaced = [p for p in plans if p.table.oid not in merged]
    kept = [p for p in plans if p.table.oid in merged]  # parents first, like plans
    for plan in reversed(replaced):  # children first: nothing left for ON DELETE actions to find
        step = time.monotonic()
        conn.execute(sql.SQL("DELETE FROM ONLY {}").format(plan.table.ident))
        log.debug("swap: delete %s %.2fs", plan.key, time.monotonic() - step)
    for plan in kept:
        update = _update_sql(plan)
        if update is not None:
            conn.execute(update)
        conn.execute(_insert_sql(plan, only_new=True))
    for plan in reversed(kept):
        conn.execute(_delete_missing_sql(plan))
    for plan in replaced:
        step = time.monotonic()
        for n in range(plan.chunks):  # one statement per chunk bounds the queue of foreign-key checks
            conn.execute(_insert_sql(plan, only_new=False, source=plan.chunk(n)))
        log.debug("swap: insert %s %.2fs", plan.key, time.monotonic() - step)
    for plan in plans:
        count = conn.execute(sql.SQL("SELECT count(*) FROM ONLY {}").format(plan.table.ident)).fetchone()[0]
        if count != plan.count:
            raise RestoreError(f"{plan.key}: {count} rows after the swap, the archive has {plan.count}")
    for plan in plans:
        _raise_sequences(conn, plan)


_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|min|h|d)?\s*")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _seconds(value: str | float) -> float:
    """A number of seconds, or a string in PostgreSQL's lock_timeout syntax ('60s', '500ms', '2min';
    a bare number means milliseconds, as there)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid lock_timeout {value!r}: use e.g. '60s' or '500ms'")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "ms"]


def _duration_text(value: str | float) -> str:
    return value.strip() if isinstance(value, str) else f"{value:g}s"


def _after_commit(database_url: str, plans: list[StagedTable], workers: int) -> None:
    """ANALYZE (planner statistics), then VACUUM (the deleted old rows; the visibility map for
    index-only scans), on parallel connections, biggest tables first.

    Failures here do not undo a committed restore (autovacuum would catch up), so they are logged.
    """
    biggest_first = sorted(plans, key=lambda p: -p.declared_bytes)
    # Without TRUNCATE, VACUUM never takes ACCESS EXCLUSIVE to cut empty pages off the end of the
    # table (readers would queue behind it); the next restore reuses that space anyway.
    tasks = [[sql.SQL("ANALYZE {}").format(p.table.ident),
              sql.SQL("VACUUM (TRUNCATE false) {}").format(p.table.ident)] for p in biggest_first]
    local = threading.local()
    opened: list[psycopg.Connection] = []
    guard = threading.Lock()

    def run(queries: list[sql.Composable]) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = connect(database_url, application_name="backupd-restore")
            with guard:
                opened.append(conn)
            local.conn = conn
        for query in queries:
            try:
                conn.execute(query)
            except psycopg.Error as exc:
                log.warning("after restore: %s failed: %s", query.as_string(conn), exc)

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backupd-analyze") as pool:
            list(pool.map(run, tasks))
    finally:
        for conn in opened:
            conn.close()


def _raise_sequences(conn: psycopg.Connection, plan: StagedTable) -> None:
    """Move each serial/identity sequence past the restored ids and the archived value; never down
    (setval is not transactional, so lowering one could collide after a rollback)."""
    archived = plan.sequences
    for link in plan.table.sequences:
        seq = sql.SQL(link.sequence)  # regclass text from the catalog: already quoted
        col = sql.Identifier(link.column)
        conn.execute(
            sql.SQL(
                "SELECT setval({lit}, target, true) FROM ("
                " SELECT GREATEST(COALESCE((SELECT max({col}) FROM ONLY {t}), 0), {arch}) AS target,"
                "        CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS current"
                " FROM {seq}) AS v WHERE target > current"
            ).format(
                lit=sql.Literal(link.sequence), col=col, t=plan.table.ident,
                arch=sql.Literal(archived.get(link.column) or 0), seq=seq,
            )
        )
