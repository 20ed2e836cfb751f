"""License files and machine files as Keygen writes them (``abstract_checkout_service.rb``,
``license_checkout_service.rb``, ``machine_checkout_service.rb`` in keygen-api).

A file is a JSON:API document (the license or machine, with ``meta`` ``{issued, expiry,
ttl}`` and the ``included`` records asked for) made into a certificate::

    enc  = base64(document)                                  (algorithm base64+ed25519)
         | base64(ciphertext).base64(iv).base64(tag)          (algorithm aes-256-gcm+ed25519)
    sig  = base64(Ed25519 signature over "<license|machine>/" + enc)
    cert = "-----BEGIN LICENSE FILE-----\\n" + base64({enc, sig, alg}) + "\\n-----END ...\\n"

The AES-256-GCM key is SHA-256 of the license key (a license file) or of the license key
followed by the machine's fingerprint (a machine file), with a random 12-byte IV, a 16-byte
tag and no associated data. The outer base64 is broken into lines of 60 characters, as
Ruby's ``Base64.encode64`` breaks it; the inner parts are unbroken (``strict_encode64``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyplane.accounts.signing import Signer
from keyplane.errors import BadRequest
from keyplane.kit.instants import add_months

TTL_INVALID = "CHECKOUT_TTL_INVALID"
ALGORITHM_INVALID = "CHECKOUT_ALGORITHM_INVALID"
DEFAULT_TTL = 2_629_746
"""Keygen's default: ``1.month`` in ActiveSupport, a twelfth of an average Gregorian year."""
MIN_TTL = 3_600
_LINE = 60
_IV = 12


class FileKind(StrEnum):
    """What a file holds; its value is the signing prefix and the armour's word."""

    LICENSE = "license"
    MACHINE = "machine"


class Encoding(StrEnum):
    BASE64 = "base64"
    AES_256_GCM = "aes-256-gcm"


KEYGEN_SIGNING = ("ed25519", "rsa-pss-sha256", "rsa-sha256", "ecdsa-p256")
"""The signing algorithms Keygen knows. An account here holds an Ed25519 key alone, so the
RSA and ECDSA ones are refused as not supported (Keygen's wording for one it cannot use)."""
ED25519 = "ed25519"


@dataclass(frozen=True, slots=True)
class Algorithm:
    encoding: Encoding
    signing: str

    def __str__(self) -> str:
        return f"{self.encoding.value}+{self.signing}"

    @property
    def encrypted(self) -> bool:
        return self.encoding is Encoding.AES_256_GCM


def algorithm(asked: str | None, *, encrypt: bool) -> Algorithm:
    """The algorithm a check-out uses: the one asked for, else ``aes-256-gcm+ed25519`` when
    encrypting and ``base64+ed25519`` when not. 400 ``CHECKOUT_ALGORITHM_INVALID`` for one
    Keygen does not know (its details) or one this server cannot sign with."""
    if not asked:
        return Algorithm(Encoding.AES_256_GCM if encrypt else Encoding.BASE64, ED25519)
    encoding, _, signing = asked.partition("+")
    if encoding not in {member.value for member in Encoding}:
        raise BadRequest("invalid encoding algorithm", ALGORITHM_INVALID, parameter="algorithm")
    if signing not in KEYGEN_SIGNING:
        raise BadRequest("invalid signing algorithm", ALGORITHM_INVALID, parameter="algorithm")
    if signing != ED25519:
        raise BadRequest("signing algorithm is not supported", ALGORITHM_INVALID, parameter="algorithm")
    return Algorithm(Encoding(encoding), signing)


def check_ttl(ttl: int | None) -> None:
    if ttl is not None and ttl < MIN_TTL:
        raise BadRequest("must be greater than or equal to 3600 (1 hour)", TTL_INVALID, parameter="ttl")


_PARTS = ((31_556_952, "years"), (2_629_746, "months"), (604_800, "weeks"), (86_400, "days"))


def expiry(issued: datetime, ttl: int) -> datetime:
    """``issued`` plus ``ttl`` seconds as Keygen adds them (``ActiveSupport::Duration.build``):
    the seconds are split into years, months, weeks and days of ActiveSupport's lengths and
    the rest, and the years and months are added on the calendar, so the default TTL (one
    "month") lands on the same day of the next month. 400 when that is past the year 9999."""
    remainder = ttl
    parts: dict[str, int] = {}
    for length, name in _PARTS:
        parts[name], remainder = divmod(remainder, length)
    try:
        when = add_months(issued, 12 * parts["years"]) if parts["years"] else issued
        when = add_months(when, parts["months"]) if parts["months"] else when
        return when + timedelta(weeks=parts["weeks"], days=parts["days"], seconds=remainder)
    except (OverflowError, ValueError):
        raise BadRequest("must end before the year 10000", TTL_INVALID, parameter="ttl") from None


def _strict(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _lines(data: bytes) -> str:
    encoded = _strict(data)
    return "\n".join(encoded[start : start + _LINE] for start in range(0, len(encoded), _LINE))


def secret_of(license_key: str, fingerprint: str | None = None) -> bytes:
    """The AES key of a file: SHA-256 of the license key (and, for a machine file, the
    machine's fingerprint after it)."""
    return hashlib.sha256((license_key + (fingerprint or "")).encode()).digest()


def encrypt(plaintext: bytes, key: bytes) -> str:
    iv = secrets.token_bytes(_IV)
    sealed = AESGCM(key).encrypt(iv, plaintext, None)
    ciphertext, tag = sealed[:-16], sealed[-16:]
    return ".".join(_strict(part) for part in (ciphertext, iv, tag))


def certificate(
    kind: FileKind, document: dict[str, Any], chosen: Algorithm, signer: Signer, key: bytes
) -> str:
    """The armoured certificate of ``document``; ``key`` is the AES key (``secret_of``),
    used only when ``chosen`` encrypts."""
    data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    enc = encrypt(data, key) if chosen.encrypted else _strict(data)
    sig = _strict(signer.sign(f"{kind.value}/{enc}".encode()))
    payload = json.dumps({"enc": enc, "sig": sig, "alg": str(chosen)}, separators=(",", ":")).encode()
    label = f"{kind.value.upper()} FILE"
    return f"-----BEGIN {label}-----\n{_lines(payload)}\n-----END {label}-----\n"
