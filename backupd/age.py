"""Encryption at rest (CONTRACT §10): age v1 with X25519 recipients, as a stream transform.

Writing goes through pyrage (bindings to the Rust `age` crate): the archive's bytes stream through
`encrypt_io` on a helper thread and come out as the encrypted chunks the store uploads, so no
plain byte reaches disk or the store. Reading must be seekable (a ZIP is read from its end), which
no age binding offers, so `DecryptingReader` implements age's payload format over a seekable
ciphertext: the X25519 stanza unwrap and header MAC of the spec, then 64 KiB ChaCha20-Poly1305
chunks with counter nonces (cryptography's AEAD), decrypted on demand. Its tests run against
archives the `age` command line tool made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ArchiveError, ConfigError

MAGIC = b"age-encryption.org/v1\n"
CHUNK = 64 * 1024
TAG = 16
IDENTITY_SETTING = "BACKUPD_AGE_IDENTITY_FILE"
RECIPIENTS_SETTING = "BACKUPD_ENCRYPT_TO"
_MAX_HEADER = 64 * 1024


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)


# --------------------------------------------------------------------------------------------
# Keys


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
                    hrp, data = _bech32_decode(line)
                except ValueError:
                    raise ConfigError(f"{IDENTITY_SETTING}: {self.identity_file} holds a line that is not an age identity") from None
                if hrp != "age-secret-key-" or len(data) != 32:
                    raise ConfigError(f"{IDENTITY_SETTING}: {self.identity_file} holds a line that is not an X25519 identity")
                keys.append(data)
        if not keys:
            raise ConfigError(f"{IDENTITY_SETTING}: no identity in {self.identity_file}")
        return keys

    def decrypting(self, raw: BinaryIO) -> BinaryIO:
        return io.BufferedReader(DecryptingReader(raw, self.identities(), str(self.identity_file)), CHUNK)  # type: ignore[return-value]


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


# --------------------------------------------------------------------------------------------
# Writing: pyrage on a helper thread, its output handed back as an iterator


_DONE = object()


class _Source(io.RawIOBase):
    """The plain chunks as a file pyrage reads; remembers an exception they raised (to re-raise it)."""

    def __init__(self, chunks: Iterable[bytes], cancelled: threading.Event) -> None:
        self._chunks = iter(chunks)
        self._pending = b""
        self._cancelled = cancelled
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._cancelled.is_set():
                raise OSError("cancelled")
            try:
                self._pending = bytes(next(self._chunks))
            except StopIteration:
                return 0
            except BaseException as exc:
                self.error = exc
                raise OSError("the archive stream failed") from exc
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _Sink:
    def __init__(self, out: queue.Queue[Any], cancelled: threading.Event) -> None:
        self._out, self._cancelled = out, cancelled

    def write(self, data: bytes) -> int:
        _put(self._out, bytes(data), self._cancelled)
        return len(data)

    def flush(self) -> None:
        pass


def _put(out: queue.Queue[Any], item: Any, cancelled: threading.Event) -> None:
    while True:
        if cancelled.is_set():
            raise OSError("cancelled")
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def encrypt_chunks(chunks: Iterable[bytes], recipients: Sequence[str]) -> Iterator[bytes]:
    """The age encryption of the concatenated `chunks`, streamed (memory: a few 64 KiB chunks)."""
    import pyrage
    from pyrage import x25519

    parsed = [x25519.Recipient.from_str(r) for r in recipients]
    out: queue.Queue[Any] = queue.Queue(maxsize=16)
    cancelled = threading.Event()
    source = _Source(chunks, cancelled)

    def run() -> None:
        try:
            pyrage.encrypt_io(io.BufferedReader(source, CHUNK), _Sink(out, cancelled), parsed)
            _put(out, _DONE, cancelled)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            try:
                _put(out, source.error or exc, cancelled)
            except OSError:
                pass

    worker = threading.Thread(target=run, name="backupd-age", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancelled.set()
        worker.join()


# --------------------------------------------------------------------------------------------
# Reading: a seekable decrypting file


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
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        self._raw.seek(0)
        head = self._raw.read(_MAX_HEADER)
        end = head.find(b"\n--- ")
        if not head.startswith(MAGIC) or end < 0:
            raise ArchiveError("not an age-encrypted archive, or its header is corrupted")
        mac_line_end = head.find(b"\n", end + 1)
        if mac_line_end < 0:
            raise ArchiveError("encrypted archive header is corrupted")
        stanzas = _stanzas(head[len(MAGIC):end + 1])
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
                raise ConfigError(f"the archive is encrypted to another key: no identity in {IDENTITY_SETTING}"
                                  f" ({identity_name}) matches it")
            mac = _b64(head[end + 5:mac_line_end])
        except ValueError:
            raise ArchiveError("encrypted archive header is corrupted") from None
        expected = hmac.new(_hkdf(file_key, b"", b"header"), head[:end + 4], hashlib.sha256).digest()
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
        buffer[:n] = plain[offset:offset + n]
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


def _bech32_decode(text: str) -> tuple[str, bytes]:
    """(human-readable part, data) of a Bech32 string (BIP 173), as age encodes its keys."""
    lower = text.lower()
    if lower != text and text.upper() != text:
        raise ValueError("mixed case")
    sep = lower.rfind("1")
    if sep < 1 or sep + 7 > len(lower):
        raise ValueError("no separator")
    hrp, values = lower[:sep], []
    for char in lower[sep + 1:]:
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
