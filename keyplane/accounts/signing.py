"""Each account's Ed25519 key pair: created with the account, the private half stored
encrypted under the server secret, kept decrypted in memory once used.

Accounts made before signing existed get their pair on first use: a conditional UPDATE
(``WHERE ed25519_public IS NULL``) lets concurrent processes race safely, and everyone then
reads back the one pair that won.

While the server secret is being rotated, a key sealed under a previous secret still opens;
``keyplane.secret`` re-seals every such key under the current secret at start.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.bindings import crypto_sign, crypto_sign_BYTES, crypto_sign_seed_keypair
from nacl.signing import SigningKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import Account

_INFO = b"keyplane account signing key v1"
_NONCE = 12


class Signer:
    """An account's Ed25519 private key. Signing goes through libsodium (PyNaCl): Ed25519
    signatures are deterministic, so they are the very bytes OpenSSL would make, at about 60%
    of its cost, and every answer of the licensing API is signed."""

    __slots__ = ("_expanded", "_key", "public")

    def __init__(self, seed: bytes) -> None:
        self._key = SigningKey(seed)
        self.public: bytes = bytes(self._key.verify_key)
        # libsodium's secret key (seed and public key), for the binding ``sign`` calls.
        _, self._expanded = crypto_sign_seed_keypair(seed)

    @classmethod
    def generate(cls) -> Signer:
        return cls(bytes(SigningKey.generate()))

    def seed(self) -> bytes:
        return bytes(self._key)

    def sign(self, data: bytes) -> bytes:
        # The binding itself: ``SigningKey.sign`` wraps the same call in a SignedMessage
        # object, which costs a fifth as much again on every answer.
        return crypto_sign(data, self._expanded)[:crypto_sign_BYTES]


class SealError(RuntimeError):
    """No configured server secret opens an account's sealed signing key. The start check
    (``keyplane.secret``) refuses such a database; met later, another process sealed the key
    under a secret this one was not given."""


def _wrapping(server_secret: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(server_secret))


class KeyRing:
    """Every account's signing key, sealed under the server secret for storage and kept
    opened in memory once used."""

    def __init__(self, server_secret: bytes, previous: Sequence[bytes] = ()) -> None:
        self._aead = _wrapping(server_secret)
        self._previous = tuple(_wrapping(secret) for secret in previous)
        self._keys: dict[uuid.UUID, Signer] = {}

    def seal(self, account_id: uuid.UUID, key: Signer) -> tuple[str, bytes]:
        """(public key hex, encrypted private key) for storage; bound to the account's id."""
        return public_hex(key), self.seal_seed(account_id, key.seed())

    def seal_seed(self, account_id: uuid.UUID, seed: bytes) -> bytes:
        """The private key ``seed`` encrypted under the current secret, bound to the account."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, seed, account_id.bytes)

    def unseal(self, account_id: uuid.UUID, sealed: bytes) -> tuple[bytes, bool] | None:
        """The private key's seed ``sealed`` holds, and whether the current secret sealed it
        (False: a previous one did, and it is due to be re-sealed); None when no secret
        opens it."""
        for aead in (self._aead, *self._previous):
            try:
                seed = aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], account_id.bytes)
            except InvalidTag:
                continue
            return seed, aead is self._aead
        return None

    def _open(self, account_id: uuid.UUID, sealed: bytes) -> Signer:
        opened = self.unseal(account_id, sealed)
        if opened is None:
            raise SealError(f"no configured server secret opens the signing key of account {account_id}")
        return Signer(opened[0])

    def new_pair(self, account: Account) -> None:
        """Give a new (not yet flushed) account its key pair."""
        account.ed25519_public, account.ed25519_private = self.seal(account.id, Signer.generate())

    def cached(self, account_id: uuid.UUID) -> Signer | None:
        return self._keys.get(account_id)

    async def stored(self, session: AsyncSession, account_id: uuid.UUID) -> Signer | None:
        """The account's signing key as stored (None when it has none yet): a read only."""
        found = self._keys.get(account_id)
        if found is not None:
            return found
        sealed = await session.scalar(select(Account.ed25519_private).where(Account.id == account_id))
        return None if sealed is None else self._opened(account_id, sealed)

    async def key(self, session: AsyncSession, account_id: uuid.UUID) -> Signer:
        """The account's signing key, created now if the account predates signing."""
        found = await self.stored(session, account_id)
        if found is not None:
            return found
        public, sealed_new = self.seal(account_id, Signer.generate())
        await session.execute(
            update(Account)
            .where(Account.id == account_id, Account.ed25519_public.is_(None))
            .values(ed25519_public=public, ed25519_private=sealed_new)
        )
        sealed = await session.scalar(select(Account.ed25519_private).where(Account.id == account_id))
        assert sealed is not None  # ours or a concurrent writer's
        return self._opened(account_id, sealed)

    def _opened(self, account_id: uuid.UUID, sealed: bytes) -> Signer:
        key = self._open(account_id, sealed)
        self._keys[account_id] = key
        return key


def public_hex(key: Signer) -> str:
    """The public key as Keygen's clients take it: 64 hex characters."""
    return key.public.hex()


def public_base64(key: Signer) -> str:
    """The public key as the account's document gives it (``meta.keys.ed25519``): base64 of
    its 64 hex characters."""
    return base64.b64encode(public_hex(key).encode()).decode()
