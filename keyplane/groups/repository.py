"""Queries on groups and their members."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.licensing.membership import MEMBERS
from keyplane.models import Group, GroupOwner, License, Machine, User
from keyplane.models.license import WITH_LICENSEES


async def page(
    session: AsyncSession, visible: list[ColumnElement[bool]], paged: paging.Paging
) -> paging.Page[Group]:
    return await paging.fetch(session, paged, select(Group), Group.id, visible)


async def one(
    session: AsyncSession, visible: list[ColumnElement[bool]], group_id: uuid.UUID, *, lock: bool = False
) -> Group | None:
    statement = select(Group).where(*visible, Group.id == group_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def release(session: AsyncSession, group_id: uuid.UUID) -> list[uuid.UUID]:
    """Take every member out of the group; their ids."""
    released: list[uuid.UUID] = []
    for model in MEMBERS.values():
        result = await session.execute(
            update(model)
            .where(model.group_id == group_id)
            .values(group_id=None)
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        released.extend(result.scalars())
    return released


async def members(
    session: AsyncSession,
    model: type[License | Machine | User],
    visible: list[ColumnElement[bool]],
    group_id: uuid.UUID,
    paged: paging.Paging,
) -> paging.Page[Any]:
    """A page of the group's members of one kind that the caller may see."""
    statement = select(model)
    if model is License:
        statement = statement.options(WITH_LICENSEES)  # a license's document shows its users
    return await paging.fetch(session, paged, statement, model.id, [*visible, model.group_id == group_id])


async def owners(session: AsyncSession, group_id: uuid.UUID, paged: paging.Paging) -> paging.Page[GroupOwner]:
    """A page of the group's ``group-owners`` rows."""
    return await paging.fetch(
        session, paged, select(GroupOwner), GroupOwner.id, [GroupOwner.group_id == group_id]
    )


async def owner(session: AsyncSession, group_id: uuid.UUID, owner_id: uuid.UUID) -> GroupOwner | None:
    return await session.scalar(
        select(GroupOwner).where(GroupOwner.group_id == group_id, GroupOwner.id == owner_id)
    )


async def owner_ids(session: AsyncSession, group_id: uuid.UUID) -> set[uuid.UUID]:
    """The users who own the group."""
    return set(await session.scalars(select(GroupOwner.user_id).where(GroupOwner.group_id == group_id)))


async def owns(session: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(GroupOwner.id).where(GroupOwner.group_id == group_id, GroupOwner.user_id == user_id)
    )
    return found is not None


async def existing_users(
    session: AsyncSession, account_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    found = await session.scalars(
        select(User.id).where(User.account_id == account_id, User.id.in_(list(ids)))
    )
    return set(found)


async def remove_owners(session: AsyncSession, group_id: uuid.UUID, user_ids: Collection[uuid.UUID]) -> None:
    await session.execute(
        delete(GroupOwner).where(GroupOwner.group_id == group_id, GroupOwner.user_id.in_(list(user_ids)))
    )
