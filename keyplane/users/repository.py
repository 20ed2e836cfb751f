from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy import delete as sa_delete
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.db import touched
from keyplane.kit import paging
from keyplane.kit.ids import as_uuid
from keyplane.licensing.keystrings import digest
from keyplane.models import License, User
from keyplane.users.schemas import UserFilters, UserStatus


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


def _license_matches(ref: str) -> ColumnElement[bool]:
    """A license named by id or by key."""
    license_id = as_uuid(ref)
    by_key = License.key_digest == digest(ref)
    return by_key if license_id is None else or_(License.id == license_id, by_key)


async def page(
    session: AsyncSession, account_id: uuid.UUID, filters: UserFilters, paged: paging.Paging
) -> paging.Page[User]:
    """A page of the account's users that pass ``filters``."""
    owns = exists().where(License.owner_id == User.id)
    conditions: list[ColumnElement[bool]] = [User.account_id == account_id]
    if filters.roles:
        conditions.append(User.role.in_(sorted(role.value for role in filters.roles)))
    if filters.status is not None:
        conditions.append(true() if filters.status == UserStatus.ACTIVE else false())
    if filters.product is not None:
        conditions.append(owns.where(License.product_id == filters.product))
    if filters.license is not None:
        conditions.append(owns.where(License.account_id == account_id, _license_matches(filters.license)))
    if filters.group is not None:
        conditions.append(User.group_id == filters.group)
    if filters.assigned is not None:
        conditions.append(owns if filters.assigned else ~owns)
    return await paging.fetch(session, paged, select(User), User.id, conditions)
