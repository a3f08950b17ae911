"""Encryption at rest (docs/operations.md): age v1 with X25519 recipients, as a stream transform.

The keys (`keys.py`: AgeKeys, keygen, parse_recipients) are what the rest of backupd uses; behind
them, a streaming encrypter over pyrage (`encrypt.py`) and a seekable decrypting reader
(`decrypt.py`), so encrypted archives are read with ranged requests like plain ones."""

from ._common import MAGIC, is_encrypted
from .keys import AgeKeys, keygen, parse_recipients

__all__ = ["MAGIC", "AgeKeys", "is_encrypted", "keygen", "parse_recipients"]
