"""Decrypting: a seekable reader of age's payload format, written here.

Reading must be seekable (a ZIP is read from its end), which no age binding offers, so
`DecryptingReader` implements age's payload format over a seekable ciphertext: the X25519 stanza
unwrap and header MAC of the spec, then 64 KiB ChaCha20-Poly1305 chunks with counter nonces
(cryptography's AEAD), decrypted on demand. Its tests run against archives the `age` command line
tool made. A module of its own because it is a hand-written implementation of a spec (with the
stanza and Bech32 parsing it needs), to be read and reviewed as one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from typing import Any, BinaryIO

from ..errors import ArchiveError, ConfigError
from ._common import CHUNK, IDENTITY_SETTING, MAGIC

TAG = 16
_MAX_HEADER = 64 * 1024


def _hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _b64(text: bytes) -> bytes:
    """age's unpadded standard base64 (canonical: no padding characters allowed)."""
    if b"=" in text:
        raise ValueError("padded base64")
    return base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)


class DecryptingReader(io.RawIOBase):
    """The plaintext of an age file over a seekable ciphertext, decrypted 64 KiB chunk at a time.

    Every chunk is authenticated (Poly1305), and the last one carries the final-chunk flag, so
    a tampered, truncated or extended ciphertext fails as soon as the damaged chunk is read.
    """

    def __init__(self, raw: BinaryIO, identities: list[bytes], identity_name: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        self._raw = raw
        try:
            file_key, payload_start = self._read_header(identities, identity_name)
            raw.seek(payload_start)
            nonce = raw.read(16)
            if len(nonce) != 16:
                raise ArchiveError("encrypted archive is truncated: no payload")
            self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
            self._start = payload_start + 16
            length = raw.seek(0, io.SEEK_END) - self._start
        except BaseException:
            raw.close()
            raise
        full, rest = divmod(length, CHUNK + TAG)
        empty = full == 0 and rest == TAG  # an empty plaintext is one empty final chunk; no other chunk may be
        if (rest == 0 and full == 0) or (0 < rest < TAG) or (rest == TAG and not empty):
            raise ArchiveError("encrypted archive is truncated or corrupted")
        self._chunks = full + (1 if rest else 0)
        self._size = full * CHUNK + (rest - TAG if rest else 0)
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def _read_header(self, identities: list[bytes], identity_name: str) -> tuple[bytes, int]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.asymmetric.x25519 import (
            X25519PrivateKey,
            X25519PublicKey,
        )
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        self._raw.seek(0)
        head = self._raw.read(_MAX_HEADER)
        end = head.find(b"\n--- ")
        if not head.startswith(MAGIC) or end < 0:
            raise ArchiveError("not an age-encrypted archive, or its header is corrupted")
        mac_line_end = head.find(b"\n", end + 1)
        if mac_line_end < 0:
            raise ArchiveError("encrypted archive header is corrupted")
        stanzas = _stanzas(head[len(MAGIC) : end + 1])
        file_key = None
        try:
            for args, body in stanzas:
                if args[0] != b"X25519" or len(args) != 2:
                    continue
                share = _b64(args[1])
                if len(share) != 32 or len(body) != 32:
                    raise ArchiveError("encrypted archive header is corrupted")
                for secret in identities:
                    private = X25519PrivateKey.from_private_bytes(secret)
                    shared = private.exchange(X25519PublicKey.from_public_bytes(share))
                    ours = private.public_key().public_bytes_raw()
                    wrap = _hkdf(shared, share + ours, b"age-encryption.org/v1/X25519")
                    try:
                        file_key = ChaCha20Poly1305(wrap).decrypt(b"\x00" * 12, body, None)
                        break
                    except InvalidTag:
                        continue
                if file_key is not None:
                    break
            if file_key is None:
                raise ConfigError(
                    f"the archive is encrypted to another key: no identity in {IDENTITY_SETTING}"
                    f" ({identity_name}) matches it"
                )
            mac = _b64(head[end + 5 : mac_line_end])
        except ValueError:
            raise ArchiveError("encrypted archive header is corrupted") from None
        expected = hmac.new(_hkdf(file_key, b"", b"header"), head[: end + 4], hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise ArchiveError("encrypted archive header is corrupted or tampered with (bad MAC)")
        return file_key, mac_line_end + 1

    def _chunk(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        from cryptography.exceptions import InvalidTag

        self._raw.seek(self._start + index * (CHUNK + TAG))
        sealed = self._raw.read(CHUNK + TAG)
        last = index == self._chunks - 1
        nonce = index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        try:
            plain = self._aead.decrypt(nonce, sealed, None)
        except InvalidTag:
            raise ArchiveError(f"encrypted archive is corrupted or tampered with (chunk {index})") from None
        if not last and len(plain) != CHUNK:
            raise ArchiveError(f"encrypted archive is corrupted (chunk {index})")
        self._cached = (index, plain)
        return plain

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size:
            return 0
        index, offset = divmod(self._pos, CHUNK)
        plain = self._chunk(index)
        n = min(len(buffer), len(plain) - offset)
        buffer[:n] = plain[offset : offset + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _stanzas(text: bytes) -> list[tuple[list[bytes], bytes]]:
    """Recipient stanzas of a header: `-> type args…` then base64 body lines (the last < 64 chars)."""
    stanzas: list[tuple[list[bytes], bytes]] = []
    lines = text.split(b"\n")[:-1]
    i = 0
    while i < len(lines):
        if not lines[i].startswith(b"-> "):
            raise ValueError("bad stanza")
        args = lines[i][3:].split(b" ")
        i += 1
        body = b""
        while True:
            if i >= len(lines):
                raise ValueError("unterminated stanza")
            line = lines[i]
            i += 1
            body += line
            if len(line) < 64:
                break
        stanzas.append((args, _b64(body)))
    return stanzas


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_decode(text: str) -> tuple[str, bytes]:
    """(human-readable part, data) of a Bech32 string (BIP 173), as age encodes its keys."""
    lower = text.lower()
    if lower != text and text.upper() != text:
        raise ValueError("mixed case")
    sep = lower.rfind("1")
    if sep < 1 or sep + 7 > len(lower):
        raise ValueError("no separator")
    hrp, values = lower[:sep], []
    for char in lower[sep + 1 :]:
        if char not in _BECH32:
            raise ValueError("bad character")
        values.append(_BECH32.index(char))
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    check = 1
    for value in expanded + values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for bit, gen in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            if (top >> bit) & 1:
                check ^= gen
    if check != 1:
        raise ValueError("bad checksum")
    acc, bits, data = 0, 0, bytearray()
    for value in values[:-6]:
        acc = (acc << 5) | value
        bits += 5
        if bits >= 8:
            bits -= 8
            data.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc & ((1 << bits) - 1)):
        raise ValueError("bad padding")
    return hrp, bytes(data)
