"""Ordered parallel production: workers fill parts concurrently, one consumer reads them in order.

A part's bytes go to an unlinked temporary file as the worker produces them, and the consumer
tails that file. So the part being consumed streams through with little delay, the parts ahead
of it wait on disk (page cache) rather than in memory, at most `max_ahead` parts exist at once,
and each spool holds at most `spool_limit` bytes: memory and temporary disk use stay bounded
(a backup to object storage must not need local disk in proportion to the archive).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Generic, TypeVar

SEGMENT_BYTES = 2 * 1024 * 1024

PartT = TypeVar("PartT")
WorkerT = TypeVar("WorkerT")


class Cancelled(Exception):
    """Raised inside workers when the consumer gave up."""


class PartSpool:
    """The bytes of one part: appended by one worker thread, read once, in order, by the consumer.

    The bytes live in a chain of unlinked segment files of `segment_bytes`; a segment is closed
    (its disk space freed) as soon as it has been read, and the writer blocks while `limit`
    unread bytes wait (its COPY then waits on the server). So a spool holds at most about
    limit + 2 segments on disk, whatever the size of its part.
    """

    def __init__(self, directory: Path | None, limit: int | None = None, segment_bytes: int = SEGMENT_BYTES) -> None:
        self._directory = directory
        self._limit = limit
        self._segment_bytes = segment_bytes
        self._segments: deque[list[int]] = deque([[_anonymous_file(directory), 0]])  # [fd, size]; last is written
        self._head_read = 0  # bytes already read from the first segment
        self._written = 0
        self._read = 0
        self._done = False
        self._abandoned = False  # the reader is gone; the writer closes the files when it stops
        self._closed = False
        self._error: BaseException | None = None
        self.rows = 0
        self._cond = threading.Condition()

    def append(self, data: bytes | bytearray) -> None:
        with self._cond:
            while self._limit is not None and self._written - self._read >= self._limit and not self._abandoned:
                self._cond.wait()
            if self._abandoned:
                raise Cancelled
            if self._segments[-1][1] >= self._segment_bytes:
                self._segments.append([_anonymous_file(self._directory), 0])
            segment = self._segments[-1]
        offset = segment[1]
        view = memoryview(data)
        while view:
            n = os.pwrite(segment[0], view, offset)
            view, offset = view[n:], offset + n
        with self._cond:
            segment[1] = offset
            self._written += len(data)
            self._cond.notify_all()

    def finish(self, rows: int) -> None:
        with self._cond:
            self.rows = rows
            self._done = True
            self._cond.notify_all()
            self._close_if_unused()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._done = True
            self._cond.notify_all()
            self._close_if_unused()

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        while True:
            with self._cond:
                while self._read == self._written and not self._done:
                    self._cond.wait()
                if self._error is not None:
                    raise self._error
                if self._read == self._written:
                    return
                if self._head_read == self._segments[0][1]:  # read through, and a later one exists
                    os.close(self._segments.popleft()[0])
                    self._head_read = 0
                fd, size = self._segments[0]
                offset = self._head_read
            data = os.pread(fd, min(size - offset, chunk_size), offset)
            with self._cond:
                self._head_read += len(data)
                self._read += len(data)
                self._cond.notify_all()
            yield data

    def close(self) -> None:
        """Called by the reader; the files are closed now, or by the writer when it stops writing."""
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()
            self._close_if_unused()

    def _close_if_unused(self) -> None:
        if self._abandoned and self._done and not self._closed:
            self._closed = True
            while self._segments:
                os.close(self._segments.popleft()[0])


class _FailedSpool(PartSpool):
    """Stands in for a spool that could not be created; reading it raises the reason."""

    def __init__(self, error: BaseException) -> None:  # no file behind it
        self._segments = deque()
        self._written = self._read = 0
        self._done, self._abandoned, self._closed = True, True, True
        self._error: BaseException = error  # never None here
        self.rows = 0
        self._cond = threading.Condition()

    def append(self, data: bytes | bytearray) -> None:
        raise self._error


def _anonymous_file(directory: Path | None) -> int:
    """An unlinked file in `directory` (nothing to clean up after a crash), or, without one, an
    anonymous memory file: then no byte of the part touches a disk (encrypted backups)."""
    if directory is None:
        return os.memfd_create("backupd-part", os.MFD_CLOEXEC)
    fd, name = tempfile.mkstemp(prefix=".backupd-part-", dir=directory)
    os.unlink(name)
    return fd


class OrderedParts(Generic[PartT, WorkerT]):
    """Runs `produce(worker, part, spool, cancelled)` for every part on a pool of workers.

    `workers` are opaque per-thread resources (database connections). `parts()` yields
    (part, spool) in the original order; the consumer reads each spool fully before the next.
    """

    def __init__(
        self,
        parts: Sequence[PartT],
        workers: Sequence[WorkerT],
        produce: Callable[[WorkerT, PartT, PartSpool, threading.Event], None],
        *,
        spool_dir: Path | None = None,
        spool_limit: int | None = None,
        max_ahead: int | None = None,
    ) -> None:
        self._parts = list(parts)
        self._produce = produce
        self._spool_dir = spool_dir
        self._spool_limit = spool_limit
        self._max_ahead = max_ahead or len(workers) + 1
        self._spools: dict[int, PartSpool] = {}
        self._next = 0  # next part index to hand to a worker
        self._consumed = 0  # index of the part the consumer is on
        self._current: PartSpool | None = None  # the spool the consumer reads (closed by stop() too)
        self._cond = threading.Condition()
        self.cancelled = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, args=(w,), name=f"backupd-part-worker-{i}", daemon=True)
            for i, w in enumerate(workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _claim(self) -> tuple[int, PartSpool] | None:
        with self._cond:
            while not self.cancelled.is_set():
                if self._next >= len(self._parts):
                    return None
                if self._next < self._consumed + self._max_ahead:
                    index = self._next
                    self._next += 1
                    try:
                        spool = PartSpool(self._spool_dir, self._spool_limit)
                    except BaseException as exc:  # e.g. no space or no directory: the consumer must hear of it
                        spool = _FailedSpool(exc)
                    self._spools[index] = spool
                    self._cond.notify_all()
                    return index, spool
                self._cond.wait(0.2)
            return None

    def _work(self, worker: WorkerT) -> None:
        while True:
            claimed = self._claim()
            if claimed is None:
                return
            index, spool = claimed
            try:
                self._produce(worker, self._parts[index], spool, self.cancelled)
            except BaseException as exc:  # handed to the consumer, which raises it
                spool.fail(exc)
                if isinstance(exc, Cancelled):
                    return

    def parts(self) -> Iterator[tuple[PartT, PartSpool]]:
        for index, part in enumerate(self._parts):
            with self._cond:
                self._consumed = index
                self._cond.notify_all()
                while index not in self._spools:
                    self._cond.wait()
                spool = self._spools.pop(index)
                self._current = spool
            try:
                yield part, spool
            finally:
                spool.close()

    def stop(self) -> None:
        """Cancel outstanding work and wait for the workers (after success or failure)."""
        self.cancelled.set()
        with self._cond:
            self._cond.notify_all()
            leftovers = list(self._spools.values()) + ([self._current] if self._current is not None else [])
            self._spools.clear()
        for spool in leftovers:
            spool.close()
        for thread in self._threads:
            thread.join(timeout=30)
