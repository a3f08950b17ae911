"""Encrypting: pyrage on a helper thread, its output handed back as an iterator.

Writing goes through pyrage (bindings to the Rust `age` crate): the archive's bytes stream through
`encrypt_io` on a helper thread and come out as the encrypted chunks the store uploads, so no
plain byte reaches disk or the store. A module of its own because this thread pipe (its queue,
cancellation and the re-raising of the source's errors) has nothing in common with reading.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any

from ._common import CHUNK

_DONE = object()


class _Source(io.RawIOBase):
    """The plain chunks as a file pyrage reads; remembers an exception they raised (to re-raise it)."""

    def __init__(self, chunks: Iterable[bytes], cancelled: threading.Event) -> None:
        self._chunks = iter(chunks)
        self._pending = b""
        self._cancelled = cancelled
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._cancelled.is_set():
                raise OSError("cancelled")
            try:
                self._pending = bytes(next(self._chunks))
            except StopIteration:
                return 0
            except BaseException as exc:
                self.error = exc
                raise OSError("the archive stream failed") from exc
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _Sink:
    def __init__(self, out: queue.Queue[Any], cancelled: threading.Event) -> None:
        self._out, self._cancelled = out, cancelled

    def write(self, data: bytes) -> int:
        _put(self._out, bytes(data), self._cancelled)
        return len(data)

    def flush(self) -> None:
        pass


def _put(out: queue.Queue[Any], item: Any, cancelled: threading.Event) -> None:
    while True:
        if cancelled.is_set():
            raise OSError("cancelled")
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def encrypt_chunks(chunks: Iterable[bytes], recipients: Sequence[str]) -> Iterator[bytes]:
    """The age encryption of the concatenated `chunks`, streamed (memory: a few 64 KiB chunks)."""
    import pyrage
    from pyrage import x25519

    parsed = [x25519.Recipient.from_str(r) for r in recipients]
    out: queue.Queue[Any] = queue.Queue(maxsize=16)
    cancelled = threading.Event()
    source = _Source(chunks, cancelled)

    def run() -> None:
        try:
            pyrage.encrypt_io(io.BufferedReader(source, CHUNK), _Sink(out, cancelled), parsed)
            _put(out, _DONE, cancelled)
        except BaseException as exc:  # handed to the consumer
            with suppress(OSError):
                _put(out, source.error or exc, cancelled)

    worker = threading.Thread(target=run, name="backupd-age", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancelled.set()
        worker.join()
