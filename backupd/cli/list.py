"""`backupd list`: the archives in the store, newest first, read from their own manifests.

Needs no database: on a new machine with an empty (or no) database this is how a user finds
what the store holds before `backupd restore --latest`.
"""

from __future__ import annotations

import argparse

from ..archive import ArchiveReader
from ..errors import BackupdError, ConfigError
from ..store import archive_id
from ._common import human_bytes, settings_from


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("list", help="list the archives in the store, newest first")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = settings_from(args).open_store()
    archives = store.archives()
    print(f"{len(archives)} archive(s) in {store.location('')}")
    for info in archives:
        encrypted = info.name.endswith(".age")
        try:
            with ArchiveReader(store.archive(info.name)) as reader:
                manifest = reader.manifest
        except ConfigError as exc:  # encrypted, and no (matching) identity to read its manifest
            print(f"{archive_id(info.name)}  {human_bytes(info.size)}  encrypted  {info.name}  ({exc})")
            continue
        except BackupdError as exc:  # one unreadable archive must not hide the others
            print(f"{info.name}  {human_bytes(info.size)}  unreadable: {exc}")
            continue
        print(
            f"{manifest.backup_id}  {manifest.created_at:%Y-%m-%d %H:%M:%S %Z}  {human_bytes(info.size)}"
            f"  {'encrypted' if encrypted else 'not encrypted'}  {info.name}"
        )
        for key, entry in manifest.contents.items():
            print(f"    {key:<24} {entry.count:>12,} rows")
    return 0
