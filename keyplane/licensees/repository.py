"""Queries on a license's users (its owner and its licensees)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.kit.ids import as_uuid
from keyplane.models import License, LicenseUser, User


def _users_of(license: License) -> ColumnElement[bool]:
    attached = select(LicenseUser.user_id).where(LicenseUser.license_id == license.id)
    return or_(User.id == license.owner_id, User.id.in_(attached))


async def page(session: AsyncSession, license: License, paged: paging.Paging) -> paging.Page[User]:
    """A page of the license's users: its owner and its licensees (Keygen's ``users``)."""
    conditions = [User.account_id == license.account_id, _users_of(license)]
    return await paging.fetch(session, paged, select(User), User.id, conditions)


async def every(session: AsyncSession, license: License) -> list[User]:
    """All the license's users, oldest first (what a license file's ``users`` embeds)."""
    conditions = [User.account_id == license.account_id, _users_of(license)]
    return list(await session.scalars(select(User).where(*conditions).order_by(User.id)))


async def one(session: AsyncSession, license: License, ref: str) -> User | None:
    """One of the license's users, by id or email."""
    user_id = as_uuid(ref)
    named = User.id == user_id if user_id is not None else User.email == ref.strip().lower()
    return await session.scalar(
        select(User).where(User.account_id == license.account_id, _users_of(license), named)
    )


async def existing_users(
    session: AsyncSession, account_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    found = await session.scalars(
        select(User.id).where(User.account_id == account_id, User.id.in_(list(ids)))
    )
    return set(found)


async def attached(session: AsyncSession, license_id: uuid.UUID) -> set[uuid.UUID]:
    found = await session.scalars(select(LicenseUser.user_id).where(LicenseUser.license_id == license_id))
    return set(found)


async def count(session: AsyncSession, license_id: uuid.UUID) -> int:
    found = await session.scalar(
        select(func.count()).select_from(LicenseUser).where(LicenseUser.license_id == license_id)
    )
    return int(found or 0)


async def detach(session: AsyncSession, license_id: uuid.UUID, user_ids: Collection[uuid.UUID]) -> None:
    await session.execute(
        delete(LicenseUser).where(
            LicenseUser.license_id == license_id, LicenseUser.user_id.in_(list(user_ids))
        )
    )
