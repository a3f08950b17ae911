"""Keys: the identity and recipients backupd encrypts to and decrypts with, and new ones made.

A module of its own because the keys are what the rest of backupd sees of encryption (the store
holds an AgeKeys and asks it to encrypt or to decrypt); it checks the settings, reads the identity
file, and hands the work to `encrypt.py` and `decrypt.py`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ..errors import ConfigError
from ._common import CHUNK, IDENTITY_SETTING
from .decrypt import DecryptingReader, bech32_decode
from .encrypt import encrypt_chunks

RECIPIENTS_SETTING = "BACKUPD_ENCRYPT_TO"


def keygen() -> tuple[str, str]:
    """A new X25519 identity: (identity file text, its recipient)."""
    from pyrage import x25519

    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"# created: {created}\n# public key: {recipient}\n{identity}\n", recipient


@dataclass(frozen=True)
class AgeKeys:
    """What backupd may encrypt to and decrypt with (BACKUPD_ENCRYPT_TO, BACKUPD_AGE_IDENTITY_FILE)."""

    recipients: tuple[str, ...] = ()
    identity_file: Path | None = None

    @property
    def encrypts(self) -> bool:
        return bool(self.recipients)

    def encrypt(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        return encrypt_chunks(chunks, self.recipients)

    def identities(self) -> list[bytes]:
        """The X25519 secret scalars of the identity file; ConfigError naming the setting otherwise."""
        if self.identity_file is None:
            raise ConfigError(f"the archive is encrypted: set {IDENTITY_SETTING} to an age identity file to read it")
        try:
            text = self.identity_file.read_text()
        except OSError as exc:
            raise ConfigError(f"{IDENTITY_SETTING}: cannot read {self.identity_file}: {exc.strerror}") from None
        keys = []
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                try:
                    hrp, data = bech32_decode(line)
                except ValueError:
                    raise ConfigError(
                        f"{IDENTITY_SETTING}: {self.identity_file} holds a line that is not an age identity"
                    ) from None
                if hrp != "age-secret-key-" or len(data) != 32:
                    raise ConfigError(
                        f"{IDENTITY_SETTING}: {self.identity_file} holds a line that is not an X25519 identity"
                    )
                keys.append(data)
        if not keys:
            raise ConfigError(f"{IDENTITY_SETTING}: no identity in {self.identity_file}")
        return keys

    def decrypting(self, raw: BinaryIO) -> BinaryIO:
        return io.BufferedReader(DecryptingReader(raw, self.identities(), str(self.identity_file)), CHUNK)


def parse_recipients(text: str) -> tuple[str, ...]:
    """Comma-separated `age1…` recipients, checked; ConfigError naming the setting otherwise."""
    from pyrage import RecipientError, x25519

    found = tuple(part.strip() for part in text.split(",") if part.strip())
    for recipient in found:
        try:
            x25519.Recipient.from_str(recipient)
        except RecipientError:
            raise ConfigError(f"{RECIPIENTS_SETTING}: not an age X25519 recipient: {recipient}") from None
    return found
