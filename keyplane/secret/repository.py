"""The installation row and the accounts' sealed signing keys, as the start check reads them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, bindparam, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import Account, Installation

INSTALLATION_ID = 1

_LOCK = 0x6B70_7365_6372_6574
"""The PostgreSQL advisory lock every starter takes before it writes the verifier or
re-seals keys ("kpsecret"): concurrent starts then act one after the other."""


async def verifier(session: AsyncSession) -> str | None:
    """The stored verifier of the server secret, or None before the first start checked it."""
    return await session.scalar(
        select(Installation.secret_verifier).where(Installation.id == INSTALLATION_ID)
    )


async def in_use(session: AsyncSession) -> bool:
    """Whether the database already holds anything made under a server secret."""
    return bool(await session.scalar(select(exists(select(Installation.id)) | exists(select(Account.id)))))


async def sealed_keys(session: AsyncSession) -> Sequence[tuple[uuid.UUID, bytes]]:
    """Every account's sealed signing key (accounts without one are left out)."""
    rows = await session.execute(
        select(Account.id, Account.ed25519_private).where(Account.ed25519_private.is_not(None))
    )
    return [(account_id, sealed) for account_id, sealed in rows if sealed is not None]


async def lock(session: AsyncSession) -> None:
    """Hold, until the transaction ends, the lock that orders concurrent starts. SQLite
    needs none: the writer's ``BEGIN IMMEDIATE`` already holds the file's write lock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    else:
        await session.execute(select(Installation.id).limit(1))  # begins the transaction


_ACCOUNTS = cast(Table, Account.__table__)
_RESEAL = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account_id"), _ACCOUNTS.c.ed25519_private == bindparam("sealed"))
    # Not an edit of the account: ``updated_at`` stays.
    .values(ed25519_private=bindparam("resealed"), updated_at=_ACCOUNTS.c.updated_at)
)
"""One statement for every key (executemany): a rotation re-seals every account's key."""


async def reseal(session: AsyncSession, keys: Sequence[tuple[uuid.UUID, bytes, bytes]]) -> None:
    """Replace each (account id, sealed key, re-sealed key)'s sealed key, if it is still
    the one that was read."""
    if keys:
        await session.execute(
            _RESEAL,
            [{"account_id": account_id, "sealed": old, "resealed": new} for account_id, old, new in keys],
        )


async def save_verifier(session: AsyncSession, value: str) -> None:
    """Write the verifier (under the start lock, so nobody else writes it meanwhile)."""
    row = await session.get(Installation, INSTALLATION_ID)
    if row is None:
        session.add(Installation(id=INSTALLATION_ID, secret_verifier=value))
    else:
        row.secret_verifier = value
    await session.flush()
