"""The credential format: branded, checksummed, high-entropy secrets, stored keyed-hashed.

A credential reads ``<brand>_<lookup><secret><checksum>``:

- ``brand`` says what it is: ``kp`` an API key, ``kpt`` a token, ``kpa`` an OAuth2 access
  token. Scanners (and people) recognise a leaked Keyplane credential by it.
- ``lookup`` (12 base62 characters) is a public, random handle that finds the row by a
  unique index, so the secret itself is never used as a search key.
- ``secret`` (43 base62 characters) carries 256 bits from the OS CSPRNG.
- ``checksum`` (6 base62 characters) is the CRC-32 of everything before it, so junk and
  typos are refused without touching the database.

Only ``HMAC-SHA256(server secret, credential)`` is stored and it is compared in constant
time. The format is matched by ``CREDENTIAL_PATTERN``, which secret scanners may use as is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass
from enum import StrEnum

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
LOOKUP_LENGTH = 12
SECRET_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
BODY_LENGTH = LOOKUP_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH
START_LENGTH = 6
"""How many body characters the non-secret ``start`` preview shows (all from the lookup)."""

CREDENTIAL_PATTERN = re.compile(rf"\b(kp|kpt|kpa)_([0-9A-Za-z]{{{BODY_LENGTH}}})\b")
_FULL = re.compile(rf"(kp|kpt|kpa)_([0-9A-Za-z]{{{BODY_LENGTH}}})")


class CredentialKind(StrEnum):
    API_KEY = "api_key"
    TOKEN = "token"
    ACCESS_TOKEN = "access_token"

    @property
    def brand(self) -> str:
        return _BRANDS[self]


_BRANDS = {
    CredentialKind.API_KEY: "kp",
    CredentialKind.TOKEN: "kpt",
    CredentialKind.ACCESS_TOKEN: "kpa",
}
_KINDS = {brand: kind for kind, brand in _BRANDS.items()}


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode()), CHECKSUM_LENGTH)


@dataclass(frozen=True, slots=True)
class ParsedCredential:
    kind: CredentialKind
    lookup: str
    start: str


def generate(kind: CredentialKind) -> tuple[str, ParsedCredential]:
    """A new credential: ``(plaintext, parsed)``. The plaintext is shown once, never kept."""
    lookup = _base62(secrets.randbelow(62**LOOKUP_LENGTH), LOOKUP_LENGTH)
    secret = _base62(secrets.randbelow(62**SECRET_LENGTH), SECRET_LENGTH)
    unsigned = f"{kind.brand}_{lookup}{secret}"
    plaintext = unsigned + _checksum(unsigned)
    return plaintext, ParsedCredential(kind, lookup, _start(kind, lookup))


def parse(text: str) -> ParsedCredential | None:
    """The credential's kind and lookup handle, or None when it is not well formed.

    Costs a regex match and a CRC-32; no I/O, so malformed input is refused for free.
    """
    match = _FULL.fullmatch(text)
    if match is None:
        return None
    brand, body = match.groups()
    if not hmac.compare_digest(_checksum(text[:-CHECKSUM_LENGTH]), body[-CHECKSUM_LENGTH:]):
        return None
    kind = _KINDS[brand]
    lookup = body[:LOOKUP_LENGTH]
    return ParsedCredential(kind, lookup, _start(kind, lookup))


def _start(kind: CredentialKind, lookup: str) -> str:
    return f"{kind.brand}_{lookup[:START_LENGTH]}"


_BLOCK = 64
"""SHA-256's block size, in bytes."""


class CredentialHasher:
    """Keyed hashing of high-entropy credentials with the server secret (a pepper).

    A password hash would add tens of milliseconds to every request for no gain: these
    secrets have 256 bits of entropy, so a keyed fast hash cannot be brute-forced, and the
    key keeps a stolen database dump useless without the server secret.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        # HMAC (RFC 2104) with its two keyed SHA-256 states prepared once: every cache miss
        # hashes its credential, and this costs a third of ``hmac.digest`` per call.
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def digest(self, plaintext: str) -> bytes:
        inner = self._inner.copy()
        inner.update(plaintext.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def matches(self, plaintext: str, stored: bytes) -> bool:
        return hmac.compare_digest(self.digest(plaintext), stored)
