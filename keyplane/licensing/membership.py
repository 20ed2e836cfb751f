"""Joining a group (Keygen's groups) within its limits (Keygen: app/models/license.rb, machine.rb, user.rb).

A record joins by naming the group; the group's row is locked first (``SELECT ... FOR
UPDATE``; SQLite has one writer), then its members are counted, so concurrent joins are
serialized and exactly ``maxLicenses`` (``maxMachines``, ``maxUsers``) of them get in. A
record locks its own row before the group's, never after: the order is always the same.
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest, InvalidResource
from keyplane.kit.ids import as_uuid
from keyplane.licensing.schemas import GroupRelationship
from keyplane.models import Group, License, Machine, User

Members = Literal["licenses", "machines", "users"]
GROUP_POINTER = "/data/relationships/group"
_NOUNS: dict[Members, str] = {"licenses": "license", "machines": "machine", "users": "user"}
MEMBERS: dict[Members, type[License | Machine | User]] = {
    "licenses": License,
    "machines": Machine,
    "users": User,
}


async def _locked(session: AsyncSession, account_id: uuid.UUID, group_id: uuid.UUID) -> Group | None:
    statement = select(Group).where(Group.account_id == account_id, Group.id == group_id).with_for_update()
    return await session.scalar(statement)


async def count(session: AsyncSession, group_id: uuid.UUID, members: Members) -> int:
    """How many licenses, machines or users are in the group."""
    model = MEMBERS[members]
    found = await session.scalar(select(func.count()).select_from(model).where(model.group_id == group_id))
    return int(found or 0)


async def admit(
    session: AsyncSession,
    account_id: uuid.UUID,
    group_ref: str | uuid.UUID,
    members: Members,
    *,
    pointer: str = GROUP_POINTER,
) -> Group:
    """The group a new member of kind ``members`` joins, locked; 422 ``GROUP_NOT_FOUND``
    ("must exist") for no group of the account, 422 ``GROUP_<KIND>_LIMIT_EXCEEDED`` for a
    full one."""
    group_id = group_ref if isinstance(group_ref, uuid.UUID) else as_uuid(group_ref)
    group = None
    if group_id is not None:
        group = await _locked(session, account_id, group_id)
    if group is None:
        raise InvalidResource("must exist", "GROUP_NOT_FOUND", pointer=pointer)
    maximum: int | None = getattr(group, f"max_{members}")
    if maximum is not None and await count(session, group.id, members) >= maximum:
        noun = _NOUNS[members]
        raise InvalidResource(
            f"{noun} count has exceeded maximum allowed by current group ({maximum})",
            f"GROUP_{noun.upper()}_LIMIT_EXCEEDED",
            pointer=pointer,
        )
    return group


async def join(
    session: AsyncSession,
    account_id: uuid.UUID,
    sent: GroupRelationship | None,
    inherited: uuid.UUID | None,
    members: Members,
) -> uuid.UUID | None:
    """The group a new record joins: the one sent, else the one it inherits (a license its
    owner's, a machine its license's, as Keygen's models do), within that group's limit."""
    ref: str | uuid.UUID | None = sent.data.id if sent is not None and sent.data is not None else inherited
    if ref is None:
        return None
    return (await admit(session, account_id, ref, members)).id


def refuse_unpermitted(sent: GroupRelationship | None, permitted: bool) -> None:
    """Only staff and product tokens may name a group on create (Keygen: 400, "unpermitted
    parameter", for anyone else)."""
    if sent is not None and not permitted:
        raise BadRequest("unpermitted parameter", "RELATIONSHIP_NOT_PERMITTED", pointer=GROUP_POINTER)
