"""Named API keys and their roles (docs/rest-api.md, docs/configuration.md): who is asking.

`BACKUPD_API_KEYS` is a comma-separated list of `name:role:key` entries; the key may be written as
`sha256:<64 hex digits>`, the SHA-256 of the key, so the configuration need not hold the key itself.
`BACKUPD_API_KEY` alone is one key named `default` with role `admin`. Neither set: no keys, and the
API answers as docs/rest-api.md describes for that case (Host checks instead of keys).

Only SHA-256 digests are kept. A presented key is hashed and its digest compared with every configured
digest in constant time (`hmac.compare_digest`, no early exit), so neither the answer time nor any
log line reveals a key, a digest or which entry almost matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from ..config import Settings
from ..errors import ConfigError
from .roles import Role

DEFAULT_KEY_NAME = "default"
HASH_PREFIX = "sha256:"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class ApiKey:
    """One configured key: its name (shown in the audit trail), its role, the SHA-256 of the key."""

    name: str
    role: Role
    digest: bytes = field(repr=False)  # never printed, logged or returned


def digest_of(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


@dataclass(frozen=True)
class Keyring:
    keys: tuple[ApiKey, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.keys)

    def identify(self, presented: bytes | None) -> ApiKey | None:
        """The key whose digest equals the presented key's, comparing with every key (constant time)."""
        if presented is None:
            return None
        digest = digest_of(presented)
        found: ApiKey | None = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def parse_api_keys(spec: str) -> tuple[ApiKey, ...]:
    """`name:role:key,...` → keys; ConfigError (one line, naming the entry but never its key) when malformed."""
    keys: list[ApiKey] = []
    for position, entry in enumerate(spec.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        name, _, rest = entry.partition(":")
        role_text, _, secret = rest.partition(":")
        name, role_text = name.strip(), role_text.strip().lower()
        where = f"BACKUPD_API_KEYS entry {position}"
        if not secret:
            raise ConfigError(f"{where} is not name:role:key (role is viewer, operator or admin)")
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: the name must be 1-64 letters, digits or _.@- (got {name[:64]!r})")
        try:
            role = Role(role_text)
        except ValueError:
            raise ConfigError(
                f"{where} ({name}): unknown role {role_text[:32]!r}: use viewer, operator or admin"
            ) from None
        keys.append(ApiKey(name, role, _digest_from_config(secret, f"{where} ({name})")))
    return tuple(keys)


def _digest_from_config(secret: str, where: str) -> bytes:
    if secret.lower().startswith(HASH_PREFIX):
        hex_digest = secret[len(HASH_PREFIX) :].strip()
        if not _HEX_DIGEST.fullmatch(hex_digest):
            raise ConfigError(f"{where}: a sha256: key must be followed by 64 hexadecimal digits")
        return bytes.fromhex(hex_digest)
    if secret != secret.strip():
        raise ConfigError(f"{where}: the key starts or ends with white space")
    return digest_of(secret.encode("utf-8"))


def keyring_from(settings: Settings) -> Keyring:
    """BACKUPD_API_KEYS plus BACKUPD_API_KEY (as `default`, admin); ConfigError on a bad or ambiguous list."""
    keys = list(parse_api_keys(settings.api_keys or ""))
    if settings.api_keys and not keys:
        raise ConfigError("BACKUPD_API_KEYS is set but lists no key (name:role:key, comma-separated)")
    if settings.api_key:
        keys.append(ApiKey(DEFAULT_KEY_NAME, Role.ADMIN, digest_of(settings.api_key.encode("utf-8"))))
    names: set[str] = set()
    digests: list[bytes] = []
    for key in keys:
        if key.name in names:
            hint = " (BACKUPD_API_KEY is the key named default)" if key.name == DEFAULT_KEY_NAME else ""
            raise ConfigError(f"BACKUPD_API_KEYS: the name {key.name} is used twice{hint}")
        if any(hmac.compare_digest(key.digest, seen) for seen in digests):
            raise ConfigError(f"BACKUPD_API_KEYS: the key of {key.name} is also another entry's key")
        names.add(key.name)
        digests.append(key.digest)
    return Keyring(tuple(keys))
