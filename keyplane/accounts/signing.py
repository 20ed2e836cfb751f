"""Each account's Ed25519 key pair: created with the account, the private half stored
encrypted under the server secret, kept decrypted in memory once used.

Accounts made before signing existed get their pair on first use: a conditional UPDATE
(``WHERE ed25519_public IS NULL``) lets concurrent processes race safely, and everyone then
reads back the one pair that won.
"""

from __future__ import annotations

import secrets
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import Account

_INFO = b"keyplane account signing key v1"
_NONCE = 12


class KeyRing:
    def __init__(self, server_secret: bytes) -> None:
        wrapping = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(server_secret)
        self._aead = AESGCM(wrapping)
        self._keys: dict[uuid.UUID, Ed25519PrivateKey] = {}

    def seal(self, account_id: uuid.UUID, key: Ed25519PrivateKey) -> tuple[str, bytes]:
        """(public key hex, encrypted private key) for storage; bound to the account's id."""
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        nonce = secrets.token_bytes(_NONCE)
        return public_hex(key), nonce + self._aead.encrypt(nonce, raw, account_id.bytes)

    def _open(self, account_id: uuid.UUID, sealed: bytes) -> Ed25519PrivateKey:
        raw = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], account_id.bytes)
        return Ed25519PrivateKey.from_private_bytes(raw)

    def new_pair(self, account: Account) -> None:
        """Give a new (not yet flushed) account its key pair."""
        account.ed25519_public, account.ed25519_private = self.seal(account.id, Ed25519PrivateKey.generate())

    def cached(self, account_id: uuid.UUID) -> Ed25519PrivateKey | None:
        return self._keys.get(account_id)

    async def key(self, session: AsyncSession, account_id: uuid.UUID) -> Ed25519PrivateKey:
        """The account's signing key, created now if the account predates signing."""
        found = self._keys.get(account_id)
        if found is not None:
            return found
        sealed = await session.scalar(select(Account.ed25519_private).where(Account.id == account_id))
        if sealed is None:
            public, sealed_new = self.seal(account_id, Ed25519PrivateKey.generate())
            await session.execute(
                update(Account)
                .where(Account.id == account_id, Account.ed25519_public.is_(None))
                .values(ed25519_public=public, ed25519_private=sealed_new)
            )
            sealed = await session.scalar(select(Account.ed25519_private).where(Account.id == account_id))
            assert sealed is not None  # ours or a concurrent writer's
        key = self._open(account_id, sealed)
        self._keys[account_id] = key
        return key


def public_hex(key: Ed25519PrivateKey) -> str:
    """The public key as Keygen's clients take it: 64 hex characters."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
