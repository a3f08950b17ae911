"""`backupd keygen [-o FILE]`: a new age identity (mode 0600) and its recipient for BACKUPD_ENCRYPT_TO."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..age import keygen
from ..errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("keygen", help="write a new age identity and print its public recipient")
    parser.add_argument(
        "-o", "--output", type=Path, help="identity file to create (mode 0600; default: print the identity on stdout)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    identity, recipient = keygen()
    if args.output is None:
        sys.stdout.write(identity)
        print(f"Public key: {recipient}", file=sys.stderr)
        return 0
    try:  # created 0600 from the start, never readable by others even for a moment
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{args.output} exists: refusing to overwrite an identity") from None
    with os.fdopen(fd, "w") as out:
        out.write(identity)
    print(recipient)  # alone on stdout: BACKUPD_ENCRYPT_TO=$(backupd keygen -o key.txt)
    print(
        f"Identity written to {args.output}: set BACKUPD_AGE_IDENTITY_FILE={args.output} to read"
        f" archives, BACKUPD_ENCRYPT_TO={recipient} to encrypt them",
        file=sys.stderr,
    )
    return 0
