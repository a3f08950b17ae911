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

    def __init__(self, reader: ReadableFile) -> None:
        self._reader = reader

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with _errors("read"):
            data = self._reader.read(len(buffer))
        n = len(data)
        memoryview(buffer)[:n] = memoryview(data)
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with _errors("read"):
            return self._reader.seek(offset, whence)

    def tell(self) -> int:
        return self._reader.tell()

    def close(self) -> None:
        if not self.closed:
            self._reader.close()
        super().close()


@contextmanager
def _errors(action: str, where: str = "") -> Iterator[None]:
    """obstore's errors as ours: one NotFound, one StoreError with the first line of the reason."""
    try:
        yield
    except BackupdError:
        raise  # raised by our own iterator during a put: not the store's fault
    except FileNotFoundError as exc:
        raise NotFound(f"not found: {where}" if where else "not found") from exc
    except obstore.exceptions.BaseError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StoreError(f"S3 {action} failed: {first}") from exc


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

        with _errors("upload", self.location(name)):
            obstore.put(
                self._store,
                name,
                counted(),
                use_multipart=True,
                chunk_size=PART_BYTES,
                max_concurrency=UPLOADS_IN_FLIGHT,
            )
        return size

    def open(self, name: str) -> BinaryIO:
        with _errors("read", self.location(name)):
            reader = obstore.open_reader(self._store, name, buffer_size=READ_BUFFER_BYTES)
        return io.BufferedReader(_ReadableFile(reader), buffer_size=READ_BUFFER_BYTES)

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
