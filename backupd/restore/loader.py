"""Loading the archive into shadow tables and building them, on a small pool of connections.

The main thread reads each member (inflated and hashed by the archive reader), cuts it into
pieces at line boundaries, counts their lines and hands each piece to a worker, which loads
its rows into the shadow: decoded here and sent by COPY (`rows.py`), or typed by the server
(`staging.load_sql`). At most `workers + 1` pieces are in memory. When a table is loaded its
indexes are built on the pool (the primary key's early: `changes` waits for it) while the next
tables load; then keys, foreign keys (validated in parallel), triggers, grants and the rest are
added and the shadows ANALYZEd, so that after the swap the tables are ready at once.
The first error cancels everything else and is the one raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from functools import partial

import psycopg
from psycopg import sql

from ..archive import ArchiveReader
from ..db.connection import ThreadConnections
from ..errors import ArchiveError, RestoreError
from ..progress import MonotonicProgress
from . import decode as rows
from . import shadows as staging
from .carry import CannotCarry, SetCarry
from .shadows import ShadowTable

PROGRESS_INTERVAL = 0.2
log = logging.getLogger(__name__)


def session_setup(conn: psycopg.Connection) -> None:
    """No statement timeouts for long loads; room to sort for index builds; and let the server
    abort our work soon after the client dies (SIGKILL)."""
    conn.execute("SET statement_timeout = 0")
    conn.execute("SET idle_in_transaction_session_timeout = 0")
    conn.execute("SET work_mem = '64MB'")
    conn.execute(
        "SELECT set_config('maintenance_work_mem', '256MB', false)"
        " WHERE current_setting('maintenance_work_mem')::text NOT LIKE '%GB'"
        " AND pg_size_bytes(current_setting('maintenance_work_mem')) < 256 * 1024 * 1024"
    )
    if conn.info.server_version >= 140000:
        conn.execute("SET client_connection_check_interval = 1000")
    staging.register_text_bytes(conn)
    rows.register_raw_numbers(conn)


def _loading_setup(conn: psycopg.Connection) -> None:
    """The loading connections also do not wait for WAL flushes of their pieces: nothing is
    visible before the swap, whose commit (on the main connection, synchronous) flushes the WAL
    up to itself, the loaded rows included."""
    session_setup(conn)
    conn.execute("SET synchronous_commit = off")


class _Cancelled(Exception):
    """Another task failed first; its error is the one reported."""


class Loader:
    def __init__(
        self,
        database_url: str,
        reader: ArchiveReader,
        plans: list[ShadowTable],
        carry: SetCarry | None,
        tracker: MonotonicProgress,
        workers: int,
        main: psycopg.Connection,
        progress_span: tuple[float, float, float],
    ) -> None:
        self.database_url = database_url
        self.reader = reader
        self.plans = plans
        self.carry = carry
        self.fallback_reason: str | None = None
        self.tracker = tracker
        self.workers = workers
        self.main = main
        self.span = progress_span  # percent at start, after loading, after building
        self.cancelled = threading.Event()
        # Set once every table is loaded and its primary key index built (what `changes` merges
        # on), so the comparison can run beside the remaining builds; also set when the run ends.
        self.keys_ready = threading.Event()
        self._keys_pending = {p.key for p in plans}
        self._conns = ThreadConnections(database_url, application_name="backupd-restore", setup=_loading_setup)
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(workers + 1)
        self.loaded_tables = 0
        self.builds_total = sum(len(t.indexes) for t in carry.tables) if carry else 0
        self.builds_done = 0
        self.total_bytes = sum(p.declared_bytes for p in plans) or 1
        self._extra: list[Callable[[], None]] = []  # tasks queued by workers (index builds)
        self._chunks: Iterator[bytes] | None = None  # the member being read
        self._decoders = {p.key: rows.line_decoder(p) for p in plans}  # None: the server decodes

    # -- plumbing ---------------------------------------------------------------------------

    def _conn(self) -> psycopg.Connection:
        return self._conns.get()

    def _cancel(self, pending: set[Future[None]]) -> None:
        self.cancelled.set()
        for fut in pending:
            fut.cancel()
        for conn in self._conns.opened():
            with suppress(psycopg.Error, AttributeError):
                conn.cancel_safe()

    def _report(self) -> None:
        start, loaded, built = self.span
        done = sum(p.loaded_bytes for p in self.plans) / self.total_bytes
        percent = start + (loaded - start) * done
        if self.builds_total:
            percent += (built - loaded) * self.builds_done / self.builds_total
        loading = [p.key for p in self.plans if p.state == "loading"]
        step = f"Loading {loading[0]}" if loading else "Building indexes"
        self.tracker.report("restoring", percent, step, self.loaded_tables)

    def _run_all(self, pool: ThreadPoolExecutor, feed: Iterator[Callable[[], None]]) -> None:
        """Submit the tasks `feed` yields (it may block on the slots), wait for all; first error wins."""
        pending: set[Future[None]] = set()
        error: BaseException | None = None
        try:
            for task in feed:
                pending.add(pool.submit(task))
                done = {f for f in pending if f.done()}
                pending -= done
                error = error or self._first_error(done)
                if error is not None:
                    break
                pending |= {pool.submit(t) for t in self._take_extra()}
                self._report()
            pending |= {pool.submit(t) for t in self._take_extra()}
            while pending and error is None:
                done, pending = wait(pending, timeout=PROGRESS_INTERVAL, return_when=FIRST_COMPLETED)
                error = self._first_error(done)
                pending |= {pool.submit(t) for t in self._take_extra()}
                self._report()
        except BaseException as exc:  # the feed failed (a corrupt member) or KeyboardInterrupt
            error = error or exc
        if error is not None:
            self._cancel(pending)
            if isinstance(error, RestoreError):
                error = self._drain() or error
            raise error

    def _drain(self) -> ArchiveError | None:
        """Read the current member to its end: a corrupted member explains itself (checksum, count,
        truncation) better than the statement its bad bytes broke."""
        chunks, self._chunks = self._chunks, None
        try:
            for _ in chunks or ():
                pass
        except ArchiveError as exc:
            return exc
        except Exception:  # any other failure adds nothing to the first error
            pass
        return None

    def _take_extra(self) -> list[Callable[[], None]]:
        with self._lock:
            tasks, self._extra = self._extra, []
        return tasks

    @staticmethod
    def _first_error(done: set[Future[None]]) -> BaseException | None:
        for fut in done:
            if fut.cancelled():
                continue
            exc = fut.exception()
            if exc is not None and not isinstance(exc, _Cancelled):
                return exc
        return None

    # -- the work ----------------------------------------------------------------------------

    def run(self) -> None:
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="backupd-restore")
        try:
            started = time.monotonic()
            self._run_all(pool, self._pieces())
            log.debug("loaded, indexes built in %.2fs", time.monotonic() - started)
            self._build(pool)
            log.debug("constraints, keys, analyze done at %.2fs", time.monotonic() - started)
        finally:
            self.keys_ready.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._conns.close()

    def _pieces(self) -> Iterator[Callable[[], None]]:
        """Tasks that load one piece each, biggest table first; each table's index builds follow
        as soon as its last piece is in."""
        for plan in sorted(self.plans, key=lambda p: -p.declared_bytes):
            plan.state = "loading"
            started = time.monotonic()
            first_line = 1
            remaining: list[int] = [0]
            table_done = threading.Event()
            self._chunks = iter(self.reader.member_chunks(plan.key, count_lines=False))  # counted here
            for piece in _pieces(self._chunks, staging.PIECE_BYTES):
                if self.cancelled.is_set():
                    raise _Cancelled
                lines = piece.count(b"\n")
                self._slots.acquire()
                with self._lock:
                    remaining[0] += 1
                yield partial(self._load, plan, piece, first_line, lines, remaining, table_done)
                first_line += lines
            if first_line - 1 != plan.count:
                raise ArchiveError(f"Row count mismatch for {plan.key}: expected {plan.count}, got {first_line - 1}")
            self._chunks = None
            with self._lock:
                self.loaded_tables += 1
                if remaining[0] == 0:
                    self._loaded(plan)
                else:
                    table_done.set()  # the last piece's task queues the builds
            log.debug("read %s in %.2fs", plan.key, time.monotonic() - started)

    def _load(
        self,
        plan: ShadowTable,
        piece: bytes,
        first_line: int,
        lines: int,
        remaining: list[int],
        table_done: threading.Event,
    ) -> None:
        try:
            if self.cancelled.is_set():
                raise _Cancelled
            conn = self._conn()
            try:
                stored = self._load_piece(conn, plan, piece)
            except psycopg.Error as exc:
                if self.cancelled.is_set():
                    raise _Cancelled from exc
                raise self._bad_piece(conn, plan, piece, first_line, exc) from exc
            if stored != lines:
                raise self._bad_piece(conn, plan, piece, first_line, None)
            with self._lock:
                plan.loaded_rows += stored
                plan.loaded_bytes += len(piece)
                remaining[0] -= 1
                if remaining[0] == 0 and table_done.is_set():
                    self._loaded(plan)
        finally:
            self._slots.release()

    def _load_piece(self, conn: psycopg.Connection, plan: ShadowTable, piece: bytes) -> int:
        """Decoded here and COPied where the table allows; else (or for a piece that does not
        decode) typed by the server from the JSON."""
        decoder = self._decoders[plan.key]
        if decoder is not None:
            try:
                decoded = decoder.rows(piece)
            except rows.DecodeError:
                pass
            else:
                return rows.copy_rows(conn, decoder.copy_sql, decoded)
        return conn.execute(staging.load_sql(plan), [piece]).rowcount

    def _bad_piece(
        self, conn: psycopg.Connection, plan: ShadowTable, piece: bytes, first_line: int, exc: psycopg.Error | None
    ) -> RestoreError:
        bad = staging.first_bad_line(conn, plan, piece)
        if bad is None:
            return RestoreError(f"{plan.key}: {exc.diag.message_primary or exc}" if exc else f"{plan.key}: rows lost")
        return RestoreError(f"{plan.key} line {first_line - 1 + bad[0]}: {bad[1]}")

    def _loaded(self, plan: ShadowTable) -> None:
        """Called (under the lock) once all of a table's rows are in: queue its index builds."""
        plan.state = "loaded"
        carry = next((t for t in self.carry.tables if t.plan is plan), None) if self.carry else None
        if carry is None or carry.key_index is None:
            self._key_built(plan.key)
        else:
            self._extra.extend(
                partial(self._build_one, q, plan.key if q is carry.key_index else None) for q in carry.indexes
            )

    def _key_built(self, key: str) -> None:
        self._keys_pending.discard(key)
        if not self._keys_pending:
            self.keys_ready.set()

    def _build_one(self, statement: sql.SQL | sql.Composed, key: str | None) -> None:
        if self.cancelled.is_set():
            raise _Cancelled
        self._conn().execute(statement)
        with self._lock:
            self.builds_done += 1
            if key is not None:
                self._key_built(key)

    def _build(self, pool: ThreadPoolExecutor) -> None:
        """Keys and constraints, foreign keys (validated in parallel), the rest, ANALYZE."""
        for plan in self.plans:
            if plan.loaded_rows != plan.count:  # cannot happen unless a piece went missing
                raise RestoreError(f"{plan.key}: {plan.loaded_rows} rows loaded, the archive declares {plan.count}")
        tasks: list[Callable[[], None]] = []
        if self.carry is not None:
            try:
                for t in self.carry.tables:
                    for statement in t.constraints:
                        self.main.execute(statement)
                fks = [fk for t in self.carry.tables for fk in t.foreign_keys]
                for fk in fks:
                    self.main.execute(fk.add)
                for t in self.carry.tables:
                    for statement in t.finish:
                        self.main.execute(statement)
                    _same_privileges(self.main, t.plan)
            except (psycopg.Error, CannotCarry) as exc:
                message = exc.diag.message_primary if isinstance(exc, psycopg.Error) else str(exc)
                self.fallback_reason = f"the shadow tables could not be completed: {message}"
                self.carry = None
            else:
                tasks += [partial(self._validate, fk.table, fk.name) for fk in fks if fk.validate]
        tasks += [partial(self._analyze, p) for p in sorted(self.plans, key=lambda p: -p.declared_bytes)]
        self._run_all(pool, iter(tasks))

    def _analyze(self, plan: ShadowTable) -> None:
        self._conn().execute(sql.SQL("ANALYZE {}").format(plan.typed))

    def _validate(self, table: sql.Composable, name: str) -> None:
        try:
            self._conn().execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(table, sql.Identifier(name)))
        except psycopg.errors.ForeignKeyViolation as exc:
            detail = " ".join((exc.diag.message_detail or "").split())
            key = next(p.key for p in self.plans if p.typed == table)
            raise RestoreError(
                f"the archive breaks a foreign key: {key}: {exc.diag.message_primary or exc}"
                + (f" ({detail})" if detail else "")
            ) from exc


def _same_privileges(conn: psycopg.Connection, plan: ShadowTable) -> None:
    """The shadow's privileges (table and columns) must equal the live table's, exactly."""
    query = """
        SELECT (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(c.relacl) a),
               ARRAY(SELECT attname || ':' || COALESCE((SELECT string_agg(x::text, ',' ORDER BY x::text)
                                                          FROM unnest(attacl) x), '')
                     FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum)
        FROM pg_class c WHERE c.oid = %s::regclass"""
    live = conn.execute(query, [plan.table.ident.as_string(conn)]).fetchone()
    shadow = conn.execute(query, [plan.typed.as_string(conn)]).fetchone()
    if live != shadow:
        raise CannotCarry(f"the privileges on {plan.key} could not be reproduced")


def _pieces(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    """A member's bytes in pieces that end at the first line end past `limit` bytes (or at the
    member's end). Each byte is copied once, by the join: the chunks are held as views."""
    parts: list[memoryview] = []
    size = 0
    for chunk in chunks:
        view = memoryview(chunk)
        start = 0
        while size + len(chunk) - start >= limit:
            end = chunk.find(b"\n", start + max(0, limit - size - 1)) + 1
            if not end:  # the piece's last line goes on in the next chunk
                break
            parts.append(view[start:end])
            yield b"".join(parts)
            parts, size, start = [], 0, end
        if start < len(chunk):
            parts.append(view[start:])
            size += len(chunk) - start
    if parts:
        piece = b"".join(parts)
        yield piece if piece.endswith(b"\n") else piece + b"\n"
