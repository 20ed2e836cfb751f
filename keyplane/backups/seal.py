"""The server secret sealed with a passphrase: scrypt derives an AES-256-GCM key from it.

GCM authenticates as well as hides: a wrong passphrase, or a byte changed in the sealed
secret or in the ``context`` it is bound to (the backup's manifest), opens nothing.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MIN_PASSPHRASE = 12
"""Characters a passphrase has at least: it guards a copy of everything, offline."""

COST = 2**17
"""scrypt's N (with r=8, p=1: 128 MiB and a fraction of a second per try)."""
_MAX_COST = 2**20
"""The largest N a backup may ask for: a crafted file cannot make a restore spend more."""


def passphrase_refusal(passphrase: str) -> str | None:
    """Why ``passphrase`` cannot seal a backup, or None."""
    if len(passphrase) < MIN_PASSPHRASE:
        return f"a passphrase has at least {MIN_PASSPHRASE} characters"
    return None


@dataclass(frozen=True, slots=True)
class Sealed:
    salt: bytes
    nonce: bytes
    ciphertext: bytes
    """The secret, encrypted, with GCM's tag."""
    n: int = COST
    r: int = 8
    p: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "kdf": "scrypt",
            "n": self.n,
            "r": self.r,
            "p": self.p,
            "cipher": "aes-256-gcm",
            "salt": _b64(self.salt),
            "nonce": _b64(self.nonce),
            "ciphertext": _b64(self.ciphertext),
        }

    @classmethod
    def from_json(cls, value: Any) -> Sealed:
        """The sealed secret a manifest holds; ``ValueError`` when it is not one."""
        if (
            not isinstance(value, dict)
            or value.get("kdf") != "scrypt"
            or value.get("cipher") != "aes-256-gcm"
        ):
            raise ValueError("not a sealed secret")
        n, r, p = (value.get(name) for name in ("n", "r", "p"))
        if not (isinstance(n, int) and isinstance(r, int) and isinstance(p, int)):
            raise ValueError("scrypt parameters are not numbers")
        if not (2 <= n <= _MAX_COST and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
            raise ValueError("scrypt parameters out of bounds")
        sealed = cls(
            _unb64(value.get("salt")), _unb64(value.get("nonce")), _unb64(value.get("ciphertext")), n, r, p
        )
        if len(sealed.nonce) != 12 or len(sealed.salt) < 16 or len(sealed.ciphertext) <= 16:
            raise ValueError("sealed secret of the wrong shape")
        return sealed


def seal(secret: bytes, passphrase: str, context: bytes) -> Sealed:
    """``secret`` encrypted under ``passphrase``, bound to ``context``."""
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _key(passphrase, salt, COST, 8, 1)
    return Sealed(salt, nonce, AESGCM(key).encrypt(nonce, secret, context))


def unseal(sealed: Sealed, passphrase: str, context: bytes) -> bytes | None:
    """The secret, or None: a wrong passphrase, or the secret or its context was altered."""
    key = _key(passphrase, sealed.salt, sealed.n, sealed.r, sealed.p)
    try:
        return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, context)
    except InvalidTag:
        return None


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64 text")
    return base64.b64decode(value, validate=True)
