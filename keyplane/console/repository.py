"""The console's queries: its sessions, and the counts of the overview."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import Account, ConsoleSession, License, Machine, Policy, PoolKey, Product, User


async def session_by_digest(
    session: AsyncSession, digest: bytes
) -> tuple[ConsoleSession, User, Account] | None:
    """The console session with this digest, its user and its account."""
    statement = (
        select(ConsoleSession, User, Account)
        .join(User, User.id == ConsoleSession.user_id)
        .join(Account, Account.id == ConsoleSession.account_id)
        .where(ConsoleSession.digest == digest)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1], row[2])


async def add_session(session: AsyncSession, row: ConsoleSession) -> None:
    session.add(row)
    await session.flush()


async def delete_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


async def delete_ended(session: AsyncSession, user_id: uuid.UUID, now: datetime, stamp: bytes) -> None:
    """The user's sessions that are over: expired, or from before a password change (each
    sign-in sweeps the user's own)."""
    await session.execute(
        delete(ConsoleSession).where(
            ConsoleSession.user_id == user_id,
            or_(ConsoleSession.expires_at <= now, ConsoleSession.password_stamp != stamp),
        )
    )


async def account_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Account)) or 0)


async def emails(
    session: AsyncSession, account_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(User.id, User.email).where(User.account_id == account_id, User.id.in_(wanted))
    )
    return {user_id: email for user_id, email in rows.all()}


async def count_licenses(session: AsyncSession, account_id: uuid.UUID, condition: ColumnElement[bool]) -> int:
    statement = select(func.count()).select_from(License).where(License.account_id == account_id, condition)
    return int(await session.scalar(statement) or 0)


async def count_machines(session: AsyncSession, account_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(Machine).where(Machine.account_id == account_id)
    return int(await session.scalar(statement) or 0)


async def pools(session: AsyncSession, account_id: uuid.UUID) -> Sequence[tuple[Policy, int]]:
    """Every pooled policy of the account with the number of keys in its pool, by name."""
    sizes = (
        select(PoolKey.policy_id, func.count().label("size"))
        .where(PoolKey.account_id == account_id)
        .group_by(PoolKey.policy_id)
        .subquery()
    )
    statement = (
        select(Policy, func.coalesce(sizes.c.size, 0))
        .outerjoin(sizes, sizes.c.policy_id == Policy.id)
        .where(Policy.account_id == account_id, Policy.use_pool.is_(True))
        .order_by(Policy.name, Policy.id)
    )
    return [(policy, int(size)) for policy, size in (await session.execute(statement)).all()]


async def product_names(
    session: AsyncSession, account_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Product.id, Product.name).where(Product.account_id == account_id, Product.id.in_(wanted))
    )
    return {product_id: name for product_id, name in rows.all()}
