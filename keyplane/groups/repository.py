"""Queries on groups and their members."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.licensing.membership import MEMBERS
from keyplane.models import Group, License, Machine, User


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
    return await paging.fetch(session, paged, select(model), model.id, [*visible, model.group_id == group_id])
