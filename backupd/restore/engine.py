"""The restore engine: validate, load and build complete shadow tables, verify, then swap.

1. Validate (nothing touched yet; `validate.py`): the archive's structure, manifest and version (ArchiveReader);
   its table set against the configured one; every table's columns against the live table; the
   free disk space against the archive's declared sizes.
2. Load (no lock on live tables; `loader.py`): each member streams, in pieces cut at line
   boundaries, straight into a shadow table of the same shape (`shadows.py`), typed
   by the server as it goes, hashed and counted by the archive reader (a mismatch fails with its
   own message). Parse, type, NOT NULL and CHECK errors surface here, naming table and line.
   Then each shadow gets every index, key, foreign key (validated), trigger, policy, grant and
   option of its live table, and is ANALYZEd.
3. Compare (docs/restore-guarantees.md): per-table changes from the shadows; a dry run stops here.
4. Swap (`swap/`): one short transaction moves the shadows in place of the live tables, or,
   when something cannot be carried over, the rows are replaced in place. Either way readers see
   the whole old or the whole new state, the out-of-set rule holds and sequences move past the
   restored ids.

The caller must hold the operation lock (`db.locks.operation_lock`) so backups and restores never
overlap; the CLI and the API take it before calling `restore_from_backup`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from ..archive import ArchiveReader, ArchiveSource, Manifest
from ..config import Settings
from ..db.connection import ThreadConnections, connect, one_row
from ..db.recreate import Recreated
from ..durations import seconds
from ..errors import BackupdError
from ..progress import MonotonicProgress, ProgressCallback
from . import shadows as staging
from .carry import CannotCarry, SetCarry, plan_carry, relax_unvalidated
from .changes import TableChanges, compare_all
from .loader import Loader, session_setup
from .recreation import archive_set, drop_recreated, recreate_missing, table_set_for
from .shadows import ShadowTable
from .swap import SwapOutcome, swap
from .validate import validate_archive_set

# The swap's deadline: how long it keeps retrying to get its locks while other sessions hold
# conflicting ones (writers, DDL, VACUUM) before the restore gives up.
DEFAULT_LOCK_TIMEOUT = "60s"

log = logging.getLogger(__name__)

# Share of the progress bar per stage (percent).
_VALIDATED, _LOADED, _BUILT, _SWAPPED = 2, 60, 85, 97


@dataclass(frozen=True)
class RestoreResult:
    items_restored: dict[str, int]  # rows now in each replaced table (what a dry run would restore)
    manifest: Manifest
    seconds: float
    swap_lock_seconds: float  # how long the swap held its lock (ACCESS EXCLUSIVE, or EXCLUSIVE in place)
    staging_seconds: float  # loading and building the shadows
    changes: dict[str, TableChanges] = field(default_factory=dict)  # archive vs live, before the swap
    dry_run: bool = False
    swap_mode: str = ""  # "catalog" | "in place" ("" for a dry run)
    fallback_reason: str | None = None  # why the swap was done in place
    recreated: list[str] = field(default_factory=list)  # tables created from the archive's definitions
    not_recreated: list[str] = field(default_factory=list)  # what the archive does not carry (triggers, …)
    adapted: list[str] = field(default_factory=list)  # what this (older) server could not take as archived


def restore_from_backup(
    database_url: str,
    archive_path: Path | str | ArchiveSource,
    *,
    tables: Sequence[str] | None = None,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    before_swap: Callable[[list[str]], None] | None = None,
    progress: ProgressCallback | None = None,
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT,
    workers: int | None = None,
    whole_archive: bool = False,
) -> RestoreResult:
    """Replace the rows of the table set with the archive's, all or nothing.

    `tables` defaults to the configured set (BACKUPD_TABLES); where none of its tables exists, or
    with `whole_archive` (drills), the set is the archive's. Tables of the set that the database
    lacks are created from the archive's definitions first (`recreation.py`) and dropped again if
    the restore fails or is a dry run. The caller holds the operation lock.
    `only` replaces just those tables of the archive (docs/restore-guarantees.md; the out-of-set rule protects
    the rest). Every restore reports `changes` (computed from the loaded rows before the swap);
    a `dry_run` stops there and changes nothing. `before_swap(keys)` runs after everything is
    verified and before any lock is taken (the safety backup); if it raises, nothing changes.
    `lock_timeout` is the swap's deadline (seconds, or PostgreSQL syntax such as '60s' or '500ms';
    0 means no deadline): it retries while other sessions keep it from its locks, then fails with
    "tables are busy".
    Raises ArchiveError for a bad archive, RestoreError when the restore is refused or fails;
    either way the database is unchanged and the staging schemas are gone.
    """
    started = time.monotonic()
    seconds(lock_timeout)  # a malformed value fails here, not after loading
    configured = list(tables) if tables is not None else list(Settings().tables)
    workers = workers or min(4, (os.cpu_count() or 2) + 1)
    with ArchiveReader(archive_path) as reader:
        tracker = MonotonicProgress(progress, len(only) if only else len(reader.manifest.contents))
        tracker.report("validating", 0, "Validating archive", 0)
        with connect(database_url, application_name="backupd-restore") as conn:
            session_setup(conn)
            if only:
                names, keys = configured, list(only)
            elif whole_archive:
                names, keys = archive_set(reader.manifest)
            else:
                names, keys = table_set_for(conn, reader.manifest, configured)
            recreated = recreate_missing(conn, reader.manifest, keys)
            run: _Run | None = None
            try:
                run = _stage_and_swap(
                    conn,
                    database_url,
                    reader,
                    names,
                    only,
                    tracker,
                    workers,
                    before_swap=None if dry_run else before_swap,
                    recreated=recreated,
                    swap_deadline=None if dry_run else lock_timeout,
                )
            finally:
                if recreated is not None and (run is None or run.outcome is None):
                    drop_recreated(database_url, recreated)  # a failed restore or a dry run leaves no table
        if run.outcome is not None:
            _after_commit(database_url, run.plans, run.carry if run.outcome.mode == "catalog" else None, workers)
    tracker.finish("completed", "Dry run complete" if dry_run else "Restore complete")
    outcome = run.outcome
    return RestoreResult(
        items_restored={p.key: p.count for p in run.plans},
        manifest=reader.manifest,
        seconds=time.monotonic() - started,
        swap_lock_seconds=outcome.lock_seconds if outcome else 0.0,
        staging_seconds=run.staging_seconds,
        changes=run.changes,
        dry_run=dry_run,
        swap_mode=outcome.mode if outcome else "",
        fallback_reason=outcome.fallback_reason if outcome else None,
        recreated=list(recreated.tables) if recreated and outcome else [],
        not_recreated=list(recreated.not_recreated) if recreated and outcome else [],
        adapted=list(recreated.adapted) if recreated and outcome else [],
    )


@dataclass
class _Run:
    """What staging and the swap produced (outcome None: a dry run)."""

    plans: list[ShadowTable]
    changes: dict[str, TableChanges]
    staging_seconds: float
    carry: SetCarry | None
    outcome: SwapOutcome | None


def _stage_and_swap(
    conn: psycopg.Connection,
    database_url: str,
    reader: ArchiveReader,
    names: list[str],
    only: Sequence[str] | None,
    tracker: MonotonicProgress,
    workers: int,
    *,
    before_swap: Callable[[list[str]], None] | None,
    recreated: Recreated | None,
    swap_deadline: str | float | None,
) -> _Run:
    """Validate, load and build the shadows, compare; then (unless `swap_deadline` is None: a dry
    run) take the safety backup of the tables that existed before and swap."""
    plans = validate_archive_set(conn, reader, names, only)
    staging.assign_schemas(plans)
    tracker.report("validating", _VALIDATED, "Validating archive", 0)
    outcome = None
    try:
        staging.drop_schemas(conn)  # leftovers of a crashed run
        staging.create_schemas(conn, plans)
        carry, reason = _plan_carry(conn, plans)
        stage_started = time.monotonic()
        loader = Loader(database_url, reader, plans, carry, tracker, workers, conn, (_VALIDATED, _LOADED, _BUILT))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backupd-changes") as side:
            comparing = side.submit(_compare_when_loaded, database_url, plans, workers, loader)
            loader.run()
            carry, reason = loader.carry, loader.fallback_reason or reason
            loaded_xid = one_row(conn.execute("SELECT pg_current_xact_id()::xid::text"))[0]
            staging_seconds = time.monotonic() - stage_started
            log.debug("loaded and built in %.2fs", staging_seconds)
            tracker.report("restoring", _BUILT, "Comparing with the live tables", len(plans))
            changes = comparing.result()
        log.debug("changes computed by %.2fs", time.monotonic() - stage_started)
        if swap_deadline is not None:
            existed = [p.key for p in plans if recreated is None or p.key not in recreated.tables]
            if before_swap is not None and existed:  # tables created for this restore held no rows
                tracker.report("restoring", _BUILT, "Safety backup", len(plans))
                before_swap(existed)
            tracker.report("restoring", _BUILT, "Swapping tables", len(plans))
            outcome = swap(conn, plans, carry, reason, swap_deadline, loaded_xid)
            log.debug("swapped (%s) holding the lock %.3fs", outcome.mode, outcome.lock_seconds)
            tracker.report("restoring", _SWAPPED, "Finishing", len(plans))
    finally:
        _drop_staging_quietly(conn, database_url)
    return _Run(plans, changes, staging_seconds, carry, outcome)


def _compare_when_loaded(
    database_url: str, plans: list[ShadowTable], workers: int, loader: Loader
) -> dict[str, TableChanges]:
    """`changes`, computed beside the last index builds, keys and ANALYZE: it only reads the
    rows, so it can start once they are all in and the primary keys it merges on are built."""
    loader.keys_ready.wait()
    if loader.cancelled.is_set():  # the loader failed: its error is the one reported
        return {}
    log.debug("comparing")
    return compare_all(database_url, plans, workers)


def _plan_carry(conn: psycopg.Connection, plans: list[ShadowTable]) -> tuple[SetCarry | None, str | None]:
    """Create the shadow tables: complete ones for the catalog swap when everything can be
    carried over, else bare typed ones for the in-place swap (the reason is logged)."""
    try:
        carry = plan_carry(conn, plans)
        for t in carry.tables:
            conn.execute(t.create)
        return carry, None
    except CannotCarry as exc:
        reason = str(exc)
    except psycopg.Error as exc:
        reason = f"the shadow tables could not be created: {exc.diag.message_primary or exc}"
    log.info("restore will swap in place: %s", reason)
    for plan in plans:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(plan.typed))
        conn.execute(
            sql.SQL(
                "CREATE UNLOGGED TABLE {} (LIKE {} INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY)"
            ).format(plan.typed, plan.table.ident)
        )
        for statement in relax_unvalidated(conn, plan.table.oid, plan.typed):  # LIKE made them valid
            conn.execute(statement)
    return None, reason


def _drop_staging_quietly(conn: psycopg.Connection, database_url: str) -> None:
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        staging.drop_schemas(conn)
        return
    except psycopg.Error:
        pass
    try:  # the main connection broke: try once more on a fresh one (else the next run cleans up)
        with connect(database_url, application_name="backupd-restore-cleanup") as fresh:
            fresh.execute("SET lock_timeout = '10s'")
            staging.drop_schemas(fresh)
    except (psycopg.Error, BackupdError):
        pass


def _after_commit(database_url: str, plans: list[ShadowTable], carry: SetCarry | None, workers: int) -> None:
    """After a catalog swap: validate the re-pointed foreign keys of tables outside the set (under
    a lock that lets their readers and writers through). After an in-place swap: ANALYZE, and
    VACUUM the deleted old rows. On parallel connections; failures here do not undo a committed
    restore, so they are logged."""
    if carry is not None:
        tasks = [
            [sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(fk.table, sql.Identifier(fk.name))]
            for _, _, fk in carry.outside_fks
            if fk.validate
        ]
    else:
        # Without TRUNCATE, VACUUM never takes ACCESS EXCLUSIVE to cut empty pages off the end of
        # the table (readers would queue behind it); the next restore reuses that space anyway.
        tasks = [
            [sql.SQL("ANALYZE {}").format(p.table.ident), sql.SQL("VACUUM (TRUNCATE false) {}").format(p.table.ident)]
            for p in sorted(plans, key=lambda p: -p.declared_bytes)
        ]
    if not tasks:
        return
    conns = ThreadConnections(database_url, application_name="backupd-restore")

    def run(queries: list[sql.Composed]) -> None:
        conn = conns.get()
        for query in queries:
            try:
                conn.execute(query)
            except psycopg.Error as exc:
                log.warning("after restore: %s failed: %s", query.as_string(conn), exc)

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backupd-after") as pool:
            list(pool.map(run, tasks))
    finally:
        conns.close()
