"""An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2, B2) through obstore.

obstore streams an iterator as a multipart upload with bounded memory and aborts the upload when
the iterator raises; it reads with ranged GETs behind a seekable file. What it cannot do is list
and abort the multipart uploads a killed process left behind, so that one piece uses botocore.
Credentials and region come from the standard AWS_* variables; BACKUPD_S3_ENDPOINT names a
non-AWS server (http:// allowed).
"""

from __future__ import annotations

import io
import os
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlparse

import obstore
from obstore.store import S3Store

from ..errors import BackupdError
from . import NotFound, ObjectInfo, Store, StoreError

if TYPE_CHECKING:
    from obstore import ReadableFile
    from obstore.store import ClientConfig, S3Config

PART_BYTES = 8 * 1024 * 1024  # multipart part size: memory is about PART_BYTES x (UPLOADS_IN_FLIGHT + 1)
UPLOADS_IN_FLIGHT = 4
READ_BUFFER_BYTES = 1024 * 1024
RANGE_CHUNK_BYTES = 4 * 1024 * 1024
REQUEST_TIMEOUT = "300s"  # obstore's default of 30 s is too short for an 8 MiB part on a slow link


class _ReadableFile(io.RawIOBase):
    """obstore's seekable reader as a raw file that zipfile and io.BufferedReader accept
    (its read() returns obstore.Bytes, which zipfile cannot use)."""

    def __init__(self, reader: ReadableFile, where: str = "") -> None:
        self._reader, self._where = reader, where

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with _errors("read", self._where, os_errors=True):
            data = self._reader.read(len(buffer))
        n = len(data)
        memoryview(buffer)[:n] = memoryview(data)
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with _errors("read", self._where, os_errors=True):
            return self._reader.seek(offset, whence)

    def tell(self) -> int:
        return self._reader.tell()

    def close(self) -> None:
        if not self.closed:
            self._reader.close()
        super().close()


_URL = re.compile(r"https?://[^/\s?]+")
_OS_MESSAGE = re.compile(r'message: "([^"]+)"')  # the OS error in obstore's debug text ("Connection refused")
_NO_ANSWER = ("error sending request", "tcp connect error", "kind: connect", "kind: timeout", "timed out", "dns error")


def _no_answer(text: str) -> str | None:
    """Why the store did not answer at all (no HTTP response: refused, timed out, unresolvable), else None.

    obstore's first line of such an error is the request it gave up on ("Error performing DELETE
    …?uploadId=… - HTTP error: error sending request"), which reads like a failed request, not an outage."""
    low = text.lower().replace("retry_timeout", "")  # obstore's settings, named in every message
    if not any(marker in low for marker in _NO_ANSWER):
        return None
    found = _OS_MESSAGE.search(text)
    if found:
        return found.group(1).lower()
    if "timeout" in low or "timed out" in low:
        return "timed out"
    return "could not connect" if "connect" in low else "no response (error sending request)"


@contextmanager
def _errors(action: str, where: str = "", *, os_errors: bool = False) -> Iterator[None]:
    """obstore's errors as ours: one NotFound, one StoreError naming the store when it did not answer, else
    with the first line of the reason. `os_errors`: obstore's readers raise OSError for a failed request
    (nothing local happens there); elsewhere an OSError is local and left alone."""
    caught: tuple[type[BaseException], ...] = (
        (obstore.exceptions.BaseError, OSError) if os_errors else (obstore.exceptions.BaseError,)
    )
    try:
        yield
    except BackupdError:
        raise  # raised by our own iterator during a put: not the store's fault
    except FileNotFoundError as exc:
        raise NotFound(f"not found: {where}" if where else "not found") from exc
    except caught as exc:
        text = str(exc).strip()
        first = (text.splitlines() or [type(exc).__name__])[0]
        cause = _no_answer(text)
        if cause is not None:
            url = _URL.search(text)
            store = url.group(0) if url else "S3"
            of = f" ({action} of {where})" if where else f" ({action})"
            raise StoreError(f"store {store} did not answer: {cause}{of}") from exc
        if action == "upload" and "uploadId=" in first:
            raise StoreError(f"S3 upload failed, and so did aborting it: {first}") from exc
        raise StoreError(f"S3 {action} failed: {first}") from exc


_PUMP_DEPTH = 4  # chunks waiting between the producing thread and the upload


@contextmanager
def _pumped(chunks: Iterator[bytes]) -> Iterator[Iterator[bytes]]:
    """`chunks`, produced on a thread of their own and handed to the upload through a small queue.

    obstore pulls an upload's chunks from inside its async runtime, and an obstore call made while
    producing a chunk (a backup copying reused parts from the previous archive in this same store)
    would start a runtime inside that runtime, which obstore refuses with a panic. On a thread of its
    own the producer may call the store freely; memory stays bounded by the queue.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_PUMP_DEPTH)
    stop = threading.Event()

    def offer(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not offer(("chunk", chunk)):
                    return
            offer(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            offer(("error", exc))

    def consume() -> Iterator[bytes]:
        while True:
            kind, value = handoff.get()
            if kind == "chunk":
                yield value
            elif kind == "end":
                return
            else:
                raise value

    producer = threading.Thread(target=produce, name="backupd-s3-upload-producer", daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        producer.join()
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class S3ArchiveStore(Store):
    def __init__(self, bucket: str, prefix: str, *, endpoint: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        options: ClientConfig = {"timeout": REQUEST_TIMEOUT, "connect_timeout": "10s"}
        config: S3Config = {"region": self.region}
        if endpoint:
            config["endpoint"] = endpoint
            options["allow_http"] = endpoint.startswith("http://")
        self._store = S3Store(
            bucket,
            prefix=self.prefix or None,
            config=config,
            client_options=options,
            retry_config={
                "max_retries": 3,
                "backoff": {"init_backoff": timedelta(milliseconds=100)},
                "retry_timeout": timedelta(seconds=60),
            },
        )

    @classmethod
    def from_url(cls, url: str, *, endpoint: str | None = None) -> S3ArchiveStore:
        parsed = urlparse(url)
        if not parsed.netloc:
            raise StoreError(f"invalid store {url!r}: expected s3://bucket[/prefix]")
        return cls(parsed.netloc, parsed.path, endpoint=endpoint)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def write(self, name: str, chunks: Iterable[bytes]) -> int:
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                size += len(chunk)
                yield chunk

        with _errors("upload", self.location(name)), _pumped(counted()) as pumped:
            obstore.put(
                self._store,
                name,
                pumped,
                use_multipart=True,
                chunk_size=PART_BYTES,
                max_concurrency=UPLOADS_IN_FLIGHT,
            )
        return size

    def open(self, name: str) -> BinaryIO:
        with _errors("read", self.location(name)):
            reader = obstore.open_reader(self._store, name, buffer_size=READ_BUFFER_BYTES)
        return io.BufferedReader(_ReadableFile(reader, self.location(name)), buffer_size=READ_BUFFER_BYTES)

    def info(self, name: str) -> ObjectInfo:
        with _errors("head", self.location(name)):
            meta = obstore.head(self._store, name)
        return ObjectInfo(name, int(meta["size"]), meta["last_modified"])

    def iter_range(self, name: str, start: int, end: int) -> Iterator[bytes]:
        while start < end:
            stop = min(end, start + RANGE_CHUNK_BYTES)
            with _errors("read", self.location(name)):
                data = obstore.get_range(self._store, name, start=start, end=stop)
            yield bytes(data)
            start = stop

    def list(self) -> list[ObjectInfo]:
        found = []
        with _errors("list", self.location("")):
            for batch in obstore.list(self._store):
                for meta in batch:
                    if "/" not in meta["path"]:
                        found.append(ObjectInfo(meta["path"], int(meta["size"]), meta["last_modified"]))
        return found

    def delete(self, name: str) -> None:
        with _errors("delete", self.location(name)):
            obstore.delete(self._store, name)

    def location(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}" if name else f"s3://{self.bucket}/{self._key('')}"

    def abort_unfinished(self) -> int:
        """Abort every multipart upload under our prefix (callers hold the operation lock)."""
        import botocore.session
        from botocore.exceptions import BotoCoreError, ClientError

        client = botocore.session.get_session().create_client("s3", region_name=self.region, endpoint_url=self.endpoint)
        prefix = self._key("")
        aborted = 0
        try:
            for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    if "/" in upload["Key"][len(prefix) :]:
                        continue  # not ours: a deeper "directory" under the prefix
                    client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    aborted += 1
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"S3 cleanup of unfinished uploads failed: {exc}") from exc
        finally:
            client.close()
        return aborted
