"""A group's owners (Keygen's ``group-owners``: app/controllers/api/v1/groups/relationships/
group_owners_controller.rb, app/policies/groups/group_owner_policy.rb). Whoever sees the
group reads its owners; admins, developers and product tokens attach and detach them. An
owner sees the group and its members without being one of them."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Role, Scope
from keyplane.db import touched
from keyplane.errors import Forbidden, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.groups import repository
from keyplane.groups.service import find
from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid, uuid7
from keyplane.licensing import user_links
from keyplane.licensing.records import not_found
from keyplane.models import Group, GroupOwner

"""Most users one attach or detach names (as for a license's users)."""
_CHANGERS = frozenset({Role.ADMIN, Role.DEVELOPER, Role.PRODUCT})


def _may(bearer: Bearer, scope: Scope) -> None:
    if not bearer.has(scope):
        raise Forbidden(
            f"This credential lacks the {scope.value} scope (or its owner's role does)", "INSUFFICIENT_SCOPE"
        )
    if scope is not Scope.READ and bearer.role not in _CHANGERS:
        raise Forbidden(
            f"You do not have permission to change a group's owners (role {bearer.role.value})",
            "ACCESS_DENIED",
        )


async def listing(
    session: AsyncSession, bearer: Bearer, group_ref: str, paged: paging.Paging
) -> paging.Page[GroupOwner]:
    group = await find(session, bearer, group_ref)
    _may(bearer, Scope.READ)
    return await repository.owners(session, group.id, paged)


async def get(session: AsyncSession, bearer: Bearer, group_ref: str, ref: str) -> GroupOwner:
    """One of the group's ``group-owners`` rows, by its id."""
    group = await find(session, bearer, group_ref)
    _may(bearer, Scope.READ)
    owner_id = as_uuid(ref)
    owner = None if owner_id is None else await repository.owner(session, group.id, owner_id)
    if owner is None:
        raise not_found("group owner")
    return owner


async def _group(session: AsyncSession, bearer: Bearer, group_ref: str, user_ids: list[uuid.UUID]) -> Group:
    group = await find(session, bearer, group_ref, lock=True)
    _may(bearer, Scope.UPDATE)
    user_links.refuse_length(user_ids)
    return group


async def attach(
    session: AsyncSession, bearer: Bearer, group_ref: str, user_ids: list[uuid.UUID]
) -> list[GroupOwner]:
    """Make users owners of the group: 422 ``USER_NOT_FOUND`` for a user not in the account,
    ``USER_TAKEN`` for an owner already (both at ``/data/relationships/user``)."""
    group = await _group(session, bearer, group_ref, user_ids)
    user_links.refuse_unknown(await repository.existing_users(session, group.account_id, user_ids), user_ids)
    already = await repository.owner_ids(session, group.id)
    user_links.refuse_taken(already, user_ids)
    now = clock.now()
    rows = [
        GroupOwner(
            id=uuid7(),
            account_id=group.account_id,
            group_id=group.id,
            user_id=user_id,
            created_at=now,
            updated_at=now,
        )
        for user_id in user_ids
    ]
    await user_links.add(session, rows)
    await events.record(
        session,
        bearer,
        EventName.GROUP_OWNERS_ATTACHED,
        group.id,
        metadata={"users": [str(user_id) for user_id in user_ids]},
    )
    return rows


async def detach(session: AsyncSession, bearer: Bearer, group_ref: str, user_ids: list[uuid.UUID]) -> None:
    """Take users' ownership of the group away: 422 for a user who is not an owner ("owner
    relationship for user '<id>' not found", at ``/data/<index>``)."""
    group = await _group(session, bearer, group_ref, user_ids)
    already = await repository.owner_ids(session, group.id)
    found = user_links.first_missing(already, user_ids)
    if found is not None:
        missing, pointer = found
        raise Unprocessable(
            f"owner relationship for user '{missing}' not found",
            "USER_NOT_ATTACHED",
            pointer=pointer,
        )
    await repository.remove_owners(session, group.id, user_ids)
    touched(session, group.id)
    await events.record(
        session,
        bearer,
        EventName.GROUP_OWNERS_DETACHED,
        group.id,
        metadata={"users": [str(user_id) for user_id in user_ids]},
    )
