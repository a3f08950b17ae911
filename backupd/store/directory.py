"""A directory of archives (the default store): plain files, written to a hidden name, fsynced, renamed."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ..age import MAGIC, AgeKeys, is_encrypted
from . import NotFound, ObjectInfo, Store

RANGE_CHUNK_BYTES = 1024 * 1024
PARTIAL_GLOB = ".*.partial"


def write_file(path: Path, chunks: Iterable[bytes]) -> int:
    """Write `chunks` to `path` atomically: a hidden temporary name in the same directory, fsynced,
    then renamed, so a crash never leaves a file that looks complete. Returns the size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(tmp, "wb") as out:
            for piece in chunks:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path.stat().st_size


def _read_range(f: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of an open file in chunks of RANGE_CHUNK_BYTES; closes the file."""
    with f:
        f.seek(start)
        remaining = end - start
        while remaining > 0:
            data = f.read(min(RANGE_CHUNK_BYTES, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def partial_files(directory: Path) -> list[Path]:
    """Temporary files left by interrupted writes."""
    return sorted(directory.glob(PARTIAL_GLOB)) if directory.is_dir() else []


class ArchiveFile:
    """An archive given by its path (`backup -o`, a SOURCE path, an upload), plain or age-encrypted.

    Written encrypted when `keys` has recipients; read decrypted when its bytes say it is age.
    """

    def __init__(self, path: Path, keys: AgeKeys | None = None) -> None:
        self.path = path
        self.keys = keys or AgeKeys()

    @property
    def encrypted(self) -> bool:
        with open(self.path, "rb") as f:
            return is_encrypted(f.read(len(MAGIC)))

    def open(self) -> BinaryIO:
        raw = open(self.path, "rb")  # noqa: SIM115 - returned open: the caller closes it
        if is_encrypted(raw.read(len(MAGIC))):
            return self.keys.decrypting(raw)
        raw.seek(0)
        return raw

    def write(self, chunks: Iterable[bytes]) -> int:
        return write_file(self.path, self.keys.encrypt(chunks) if self.keys.encrypts else chunks)

    def __str__(self) -> str:
        return str(self.path)


class DirectoryStore(Store):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise NotFound(f"not found: {name}")
        return self.root / name

    def write(self, name: str, chunks: Iterable[bytes]) -> int:
        return write_file(self._path(name), chunks)

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError:
            raise NotFound(f"not found: {self.location(name)}") from None

    def info(self, name: str) -> ObjectInfo:
        try:
            st = self._path(name).stat()
        except FileNotFoundError:
            raise NotFound(f"not found: {self.location(name)}") from None
        return ObjectInfo(name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def iter_range(self, name: str, start: int, end: int) -> Iterator[bytes]:
        """The file is opened now, not at the first chunk: one already gone raises NotFound here
        (a download answers 404 before any header is sent), and one deleted while it is read (DELETE,
        retention after a newer backup) is read to the end from the open file."""
        try:
            f = self._path(name).open("rb")
        except FileNotFoundError:
            raise NotFound(f"not found: {self.location(name)}") from None
        return _read_range(f, start, end)

    def list(self) -> list[ObjectInfo]:
        if not self.root.is_dir():
            return []
        found = []
        for entry in os.scandir(self.root):
            if entry.is_file() and not entry.name.startswith("."):
                st = entry.stat()
                found.append(ObjectInfo(entry.name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)))
        return found

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def location(self, name: str) -> str:
        return str(self.root / name) if name else str(self.root) + os.sep

    def abort_unfinished(self) -> int:
        removed = 0
        for path in partial_files(self.root):
            path.unlink(missing_ok=True)
            removed += 1
        return removed
