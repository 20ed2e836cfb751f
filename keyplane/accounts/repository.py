from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import Account


async def by_id_or_slug(session: AsyncSession, ref: str) -> Account | None:
    try:
        account_id = uuid.UUID(ref)
    except ValueError:
        return await session.scalar(select(Account).where(Account.slug == ref))
    return await session.get(Account, account_id)


async def oldest(session: AsyncSession) -> Account | None:
    return await session.scalar(select(Account).order_by(Account.id).limit(1))
