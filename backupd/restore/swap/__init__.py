"""The swap: the one transaction that puts the archive's rows in place of the live ones.

Catalog swap (the normal case; `catalog.py`): the shadow tables are complete (rows, indexes,
constraints, triggers, grants, …; `carry.py`), so the swap only moves the live tables aside and the
shadows in (`ALTER TABLE … SET SCHEMA`), re-points what depends on them (views, foreign keys from
other tables, owned sequences, publications), raises the sequences and drops the old tables, all
under ACCESS EXCLUSIVE for milliseconds, whatever the tables' size. Each attempt waits at most
LOCK_WAIT seconds for its locks (below the server's 1 s deadlock check, so a reader or writer
that deadlocks with it is never the one cancelled; they wait at most that long), and is retried
with random back-off. Readers never see a mix: the swap cannot lock a table that an open
transaction has read, and it refuses to swap while a transaction whose snapshot is older than
the load is open (it would see the new tables empty).

In-place swap (the fallback; `in_place.py`): lock the live tables in EXCLUSIVE mode (writers
wait, readers do not), DELETE the old rows and INSERT the shadow's; tables referenced from outside
the set are merged by primary key. It keeps the live tables and so everything attached to them;
their user triggers are disabled while the rows change and put back to their exact states before
COMMIT, so none of the application's triggers fires on restored rows (docs/operations.md). It is used
when the shadows cannot carry something (`carry.CannotCarry`), when the catalog swap fails for
a reason other than a busy lock, and when only readers keep it from its locks for long (a
transaction idle with a table open, or READER_PATIENCE of busy readers).

Either way: the database is unchanged until COMMIT, and "tables are busy" after the deadline.
This module holds `swap()` and the policy over the attempts (their lock waits, the back-off, when
to give up or fall back); one attempt of each swap lives in its own module, and both raise the
sequences (`sequences.py`) and refuse to orphan rows outside the set (`outside.py`).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import psycopg

from ...db.connection import one_row
from ...durations import duration_text, seconds
from ...errors import RestoreError
from ..carry import SetCarry
from ..shadows import ShadowTable
from .catalog import CatalogFallback, OldSnapshot, catalog_once
from .in_place import in_place_once

__all__ = ["SwapOutcome", "swap"]

# Catalog swap: per-attempt lock wait (doubling from the first), and how long busy readers may
# keep it from its locks before the in-place swap (which readers do not block) takes over.
FIRST_LOCK_WAIT, LOCK_WAIT = 0.1, 0.9
READER_PATIENCE = 30.0
OLD_SNAPSHOT_PATIENCE = 5.0
# In-place swap: EXCLUSIVE does not queue readers, so it may wait past the deadlock check (which
# also cancels an autovacuum in its way).
FIRST_ATTEMPT_LOCK_TIMEOUT, MAX_ATTEMPT_LOCK_TIMEOUT = 0.2, 2.0
BACKOFF, MAX_BACKOFF = 0.05, 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SwapOutcome:
    lock_seconds: float  # how long the successful attempt held its locks
    mode: str  # "catalog" | "in place"
    fallback_reason: str | None = None


def swap(
    conn: psycopg.Connection,
    plans: list[ShadowTable],
    carry: SetCarry | None,
    reason: str | None,
    lock_timeout: str | float,
    loaded_xid: str,
) -> SwapOutcome:
    deadline = seconds(lock_timeout)
    started = time.monotonic()
    if carry is not None:
        readers_since = old_since = None  # when readers (or an old snapshot) first stood in the way
        attempt = 0
        deadlock_check = one_row(
            conn.execute("SELECT extract(epoch FROM current_setting('deadlock_timeout')::interval)")
        )[0]
        most = min(LOCK_WAIT, 0.9 * float(deadlock_check))
        while True:
            wait = min(FIRST_LOCK_WAIT * 2**attempt, most, _left(started, deadline, most))
            tried = time.monotonic()
            try:
                return SwapOutcome(catalog_once(conn, plans, carry, wait, loaded_xid), "catalog")
            except CatalogFallback as exc:
                reason = str(exc)
                break
            except OldSnapshot as exc:
                old_since = old_since or tried
                if time.monotonic() - old_since > OLD_SNAPSHOT_PATIENCE:
                    reason = str(exc)
                    break
                _busy_unless_time_left(started, deadline, lock_timeout, exc)
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
                holders = _lock_holders(conn, plans, carry)
                if holders.startswith("idle"):
                    reason = holders
                    break
                if holders.startswith("readers"):
                    readers_since = readers_since or tried
                    if time.monotonic() - readers_since > READER_PATIENCE:
                        reason = f"{holders} for {READER_PATIENCE:g}s"
                        break
                _busy_unless_time_left(started, deadline, lock_timeout, exc)
            attempt += 1
            _back_off(attempt)
        log.info("swapping in place: %s", reason)
    return _swap_in_place(conn, plans, lock_timeout, started, reason)


def _left(started: float, deadline: float, default: float) -> float:
    return max(0.01, started + deadline - time.monotonic()) if deadline > 0 else default


def _busy_unless_time_left(started: float, deadline: float, lock_timeout: str | float, exc: Exception) -> None:
    if deadline > 0 and time.monotonic() + BACKOFF >= started + deadline:
        raise RestoreError(f"tables are busy: could not lock them within {duration_text(lock_timeout)}") from exc


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0.005, min(MAX_BACKOFF, BACKOFF * 2**attempt)))


def _lock_holders(conn: psycopg.Connection, plans: list[ShadowTable], carry: SetCarry) -> str:
    """Who holds locks on the set now: 'writers', 'idle …' (a reader idle in its transaction),
    'readers …' or ''."""
    rows = conn.execute(
        "SELECT l.mode, a.state, now() - a.state_change > interval '1 second', l.relation::regclass::text"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'relation' AND l.granted AND l.relation = ANY(%s) AND l.pid <> pg_backend_pid()",
        [[p.table.oid for p in plans]],
    ).fetchall()
    if any(mode != "AccessShareLock" for mode, *_ in rows):
        return "writers"
    idle = [table for _, state, long, table in rows if state and state.startswith("idle in transaction") and long]
    if idle:
        return f"idle: a session idle in its transaction has {idle[0]} open"
    return f"readers kept {rows[0][3]} busy" if rows else ""


def _swap_in_place(
    conn: psycopg.Connection, plans: list[ShadowTable], lock_timeout: str | float, started: float, reason: str | None
) -> SwapOutcome:
    deadline = seconds(lock_timeout)
    attempt = 0
    while True:
        wait = min(
            FIRST_ATTEMPT_LOCK_TIMEOUT * 2**attempt,
            MAX_ATTEMPT_LOCK_TIMEOUT,
            _left(started, deadline, MAX_ATTEMPT_LOCK_TIMEOUT),
        )
        try:
            return SwapOutcome(in_place_once(conn, plans, wait), "in place", reason)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
            _busy_unless_time_left(started, deadline, lock_timeout, exc)
            attempt += 1
            log.debug("swap attempt %d: %s", attempt, exc.diag.message_primary or exc)
            _back_off(attempt)
