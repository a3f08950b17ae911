"""What the age modules share: the format's magic line and chunk size, and the setting they cite.

A module of its own so that `keys.py` can import the encrypter and the decrypter while all three
use these names, without any of them importing back.
"""

from __future__ import annotations

MAGIC = b"age-encryption.org/v1\n"
CHUNK = 64 * 1024
IDENTITY_SETTING = "BACKUPD_AGE_IDENTITY_FILE"


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)
