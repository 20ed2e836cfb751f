from __future__ import annotations

import uuid

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.db import touched
from keyplane.models import User


async def by_email(session: AsyncSession, account_id: uuid.UUID, email: str) -> User | None:
    if "\x00" in email:
        return None  # no email holds one, and PostgreSQL refuses to compare with it
    return await session.scalar(
        select(User).where(User.account_id == account_id, User.email == email.strip().lower())
    )


async def by_id(session: AsyncSession, account_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    return await session.scalar(select(User).where(User.account_id == account_id, User.id == user_id))


async def delete(session: AsyncSession, user: User) -> None:
    # Credentials go with their owner through the foreign key's ON DELETE CASCADE.
    await session.execute(sa_delete(User).where(User.id == user.id))
    touched(session, user.id)
