"""Queries on pool keys, and the atomic pop."""

from __future__ import annotations

import contextlib
import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.licensing.keystrings import digest
from keyplane.models import License, PoolKey


async def key_taken(
    session: AsyncSession, account_id: uuid.UUID, key: str, except_id: uuid.UUID | None
) -> bool:
    statement = select(PoolKey.id).where(PoolKey.account_id == account_id, PoolKey.key_digest == digest(key))
    if except_id is not None:
        statement = statement.where(PoolKey.id != except_id)
    return await session.scalar(statement.limit(1)) is not None


async def license_conflict(session: AsyncSession, account_id: uuid.UUID, key: str) -> bool:
    """Whether ``key`` equals a license key, or a license id, of the account."""
    conditions = [License.key_digest == digest(key)]
    with contextlib.suppress(ValueError):
        conditions.append(License.id == uuid.UUID(key))
    for condition in conditions:
        found = await session.scalar(
            select(License.id).where(License.account_id == account_id, condition).limit(1)
        )
        if found is not None:
            return True
    return False


async def pop(session: AsyncSession, policy_id: uuid.UUID) -> PoolKey | None:
    """Take one key out of the pool, atomically: two concurrent pops never get the same key.

    The newest key goes first (Keygen's order). On PostgreSQL, ``SKIP LOCKED`` lets
    concurrent pops each claim a different key without waiting on one another; on SQLite,
    writers are serialized, so the single statement is already atomic.
    """
    claim = (
        select(PoolKey.id)
        .where(PoolKey.policy_id == policy_id)
        .order_by(PoolKey.id.desc())
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        delete(PoolKey)
        .where(PoolKey.id == claim)
        .returning(PoolKey)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(statement)).first()
