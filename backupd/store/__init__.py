"""Where archives live (docs/operations.md): one small interface, one module per backend.

A store holds archives as named objects (`backupd-<UTC time>-<backup id>.zip`). Engines never see
a store: they read through `StoredArchive.open()` (a seekable binary file) and write through
`StoredArchive.write(chunks)`, which makes the object appear under its name only when complete.
Every backend raises the same `NotFound`, so the helpers below are written once.
"""

from __future__ import annotations

import builtins
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ..age import AgeKeys
from ..errors import BackupdError, ConfigError

ARCHIVE_SUFFIXES = (".zip", ".zip.age")
_ARCHIVE_NAME = re.compile(
    r"^backupd-(?P<time>\d{8}T\d{6}Z)-(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"(?P<suffix>\.zip(?:\.age)?)$"
)


class NotFound(BackupdError):
    """The object does not exist (the same error for every backend)."""


class StoreError(BackupdError):
    """The store could not be reached or refused an operation (one line, for users)."""


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    modified: datetime


class Store(ABC):
    """An archive store. Names are flat (no '/'); backends map them to files or keys.

    `keys` decide encryption: new archives are `….zip.age` when there are recipients, and
    archives named so are encrypted on write and decrypted on read (docs/operations.md).
    """

    keys: AgeKeys = AgeKeys()

    @abstractmethod
    def write(self, name: str, chunks: Iterable[bytes]) -> int:
        """Consume `chunks` into object `name`; return its size. Visible only once complete:
        if `chunks` raises, or the process dies, no object of that name appears."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO:
        """A seekable, buffered binary file over the object (each call its own, for threads)."""

    @abstractmethod
    def info(self, name: str) -> ObjectInfo: ...

    @abstractmethod
    def iter_range(self, name: str, start: int, end: int) -> Iterator[bytes]:
        """The bytes [start, end) in chunks of bounded size (HTTP Range downloads)."""

    @abstractmethod
    def list(self) -> list[ObjectInfo]:
        """Every object of the store (not only archives)."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the object; a missing one is not an error."""

    @abstractmethod
    def location(self, name: str) -> str:
        """How users and the API see the object: a local path or `s3://bucket/key`."""

    @abstractmethod
    def abort_unfinished(self) -> int:
        """Remove what interrupted writes left behind (partial files, multipart uploads).

        Only call it while holding the operation lock: then no write is in progress anywhere.
        """

    def name_of(self, location: str) -> str | None:
        """The object name behind a `location()` of this store, else None."""
        prefix = self.location("")
        if location.startswith(prefix):
            name = location[len(prefix) :]
            return name if name and "/" not in name else None
        return None

    def archive(self, name: str) -> StoredArchive:
        return StoredArchive(self, name)

    def new_archive(self, backup_id: str) -> StoredArchive:
        """Where a new backup goes: named by time and id, encrypted when there are recipients."""
        return self.archive(archive_name(backup_id, encrypted=self.keys.encrypts))

    def archives(self) -> builtins.list[ObjectInfo]:  # `list` is the method here
        """The archives of the store, newest first (their names start with the UTC time)."""
        found = [o for o in self.list() if _ARCHIVE_NAME.match(o.name)]
        return sorted(found, key=lambda o: o.name, reverse=True)

    def find(self, text: str) -> StoredArchive:
        """An archive by object name or by the full backup id; NotFound otherwise."""
        archives = self.archives()
        for info in archives:
            if info.name == text:
                return self.archive(info.name)
        for info in archives:
            if archive_id(info.name) == text.lower():
                return self.archive(info.name)
        raise NotFound(f"no archive named or with id {text} in {self.location('')}")

    def latest(self) -> StoredArchive:
        archives = self.archives()
        if not archives:
            raise NotFound(f"no archives in {self.location('')}")
        return self.archive(archives[0].name)


@dataclass(frozen=True)
class StoredArchive:
    """One archive of a store: what engines read from or write to, without knowing the backend."""

    store: Store
    name: str

    @property
    def encrypted(self) -> bool:
        return self.name.endswith(".age")

    def open(self) -> BinaryIO:
        raw = self.store.open(self.name)
        return self.store.keys.decrypting(raw) if self.encrypted else raw

    def write(self, chunks: Iterable[bytes]) -> int:
        if self.encrypted:
            if not self.store.keys.encrypts:
                raise ConfigError(f"cannot write {self.name}: BACKUPD_ENCRYPT_TO names no recipient")
            chunks = self.store.keys.encrypt(chunks)
        return self.store.write(self.name, chunks)

    def delete(self) -> None:
        self.store.delete(self.name)

    @property
    def location(self) -> str:
        return self.store.location(self.name)

    def __str__(self) -> str:
        return self.location


def archive_name(backup_id: str, when: datetime | None = None, *, encrypted: bool = False) -> str:
    """`backupd-<UTC yyyymmddThhmmssZ>-<full id>.zip` (a UUIDv7 prefix is not unique)."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return f"backupd-{when:%Y%m%dT%H%M%SZ}-{backup_id}{ARCHIVE_SUFFIXES[1] if encrypted else ARCHIVE_SUFFIXES[0]}"


def archive_id(name: str) -> str | None:
    match = _ARCHIVE_NAME.match(name)
    return match.group("id") if match else None


def open_store(spec: str, *, s3_endpoint: str | None = None, keys: AgeKeys | None = None) -> Store:
    """A store from BACKUPD_STORE: `s3://bucket[/prefix]`, `file:///path` or a plain path."""
    store: Store
    if spec.startswith("s3://"):
        from .s3 import S3ArchiveStore

        store = S3ArchiveStore.from_url(spec, endpoint=s3_endpoint)
    elif "://" in spec and not spec.startswith("file://"):
        raise StoreError(f"unsupported store {spec!r}: use a directory, file:///path or s3://bucket/prefix")
    else:
        from .directory import DirectoryStore

        store = DirectoryStore(Path(spec.removeprefix("file://")).expanduser())
    if keys is not None:
        store.keys = keys
    return store
