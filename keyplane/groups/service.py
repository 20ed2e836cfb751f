"""Groups: CRUD, and who sees which (Keygen: app/policies/group_policy.rb).

Staff and product tokens read every group of the account; a user reads their own group and
the groups they own, a license its own. Admins, developers and product tokens create,
change and delete groups. Deleting a group leaves its licenses, machines and users without one.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Role, Scope
from keyplane.db import touched
from keyplane.errors import Forbidden, InvalidResource
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.groups import repository
from keyplane.groups.schemas import GroupAttributes, GroupCreateAttributes
from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid
from keyplane.licensing.records import not_found
from keyplane.models import Group, GroupOwner, License, User

_WRITERS = frozenset({Role.ADMIN, Role.DEVELOPER, Role.PRODUCT})


def view(bearer: Bearer) -> list[ColumnElement[bool]]:
    """Conditions that keep a query to the groups the bearer may see."""
    conditions: list[ColumnElement[bool]] = [Group.account_id == bearer.account.id]
    if bearer.is_staff or bearer.is_product:
        return conditions
    if bearer.is_license:
        own = select(License.group_id).where(License.id == bearer.license_id).scalar_subquery()
        return [*conditions, Group.id == own]
    if bearer.user_id is not None:
        # Their own group, and the groups they own (Keygen's ``bearer.group_ids``).
        own = select(User.group_id).where(User.id == bearer.user_id).scalar_subquery()
        owned = select(GroupOwner.group_id).where(GroupOwner.user_id == bearer.user_id)
        return [*conditions, or_(Group.id == own, Group.id.in_(owned))]
    return [*conditions, false()]


def _may(bearer: Bearer, scope: Scope, verb: str) -> None:
    if not bearer.has(scope):
        raise Forbidden(
            f"This credential lacks the {scope.value} scope (or its owner's role does)", "INSUFFICIENT_SCOPE"
        )
    if scope is not Scope.READ and bearer.role not in _WRITERS:
        raise Forbidden(
            f"You do not have permission to {verb} groups (role {bearer.role.value})", "ACCESS_DENIED"
        )


def _apply(group: Group, data: GroupAttributes) -> None:
    sent = data.model_fields_set
    if "name" in sent:
        if data.name is None:
            raise InvalidResource("can't be blank", "NAME_MISSING", pointer="/data/attributes/name")
        group.name = data.name
    for name in ("max_licenses", "max_machines", "max_users"):
        if name in sent:
            setattr(group, name, getattr(data, name))
    if "metadata" in sent:
        group.meta = data.metadata or {}


async def find(session: AsyncSession, bearer: Bearer, ref: str, *, lock: bool = False) -> Group:
    group_id = as_uuid(ref)
    group = None if group_id is None else await repository.one(session, view(bearer), group_id, lock=lock)
    if group is None:
        raise not_found("group")
    return group


async def create(session: AsyncSession, bearer: Bearer, data: GroupCreateAttributes) -> Group:
    _may(bearer, Scope.CREATE, "create")
    group = Group(account_id=bearer.account.id, name=data.name, meta={})
    _apply(group, data)
    session.add(group)
    await session.flush()
    await events.record(session, bearer, EventName.GROUP_CREATED, group.id)
    return group


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> Group:
    group = await find(session, bearer, ref)
    _may(bearer, Scope.READ, "read")
    return group


async def listing(session: AsyncSession, bearer: Bearer, asked: paging.Listed[None]) -> paging.Page[Group]:
    _may(bearer, Scope.READ, "read")
    return await repository.page(session, view(bearer), asked.paging)


async def update(session: AsyncSession, bearer: Bearer, ref: str, data: GroupAttributes) -> Group:
    group = await find(session, bearer, ref, lock=True)
    _may(bearer, Scope.UPDATE, "update")
    _apply(group, data)
    await events.record(session, bearer, EventName.GROUP_UPDATED, group.id, changed=group)
    group.updated_at = clock.now()
    await session.flush()
    return group


async def delete(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    group = await find(session, bearer, ref)
    _may(bearer, Scope.DELETE, "delete")
    await events.record(session, bearer, EventName.GROUP_DELETED, group.id)
    # Its members stay, without a group (the foreign keys would do it too, unseen by caches).
    touched(session, *await repository.release(session, group.id))
    await session.delete(group)
    await session.flush()


async def group_of(session: AsyncSession, bearer: Bearer, group_id: uuid.UUID | None) -> Group:
    """The group of a record the bearer sees (Keygen: its owner sees it, in it or not), or
    404 when it has none."""
    group = None
    if group_id is not None:
        group = await repository.one(session, [Group.account_id == bearer.account.id], group_id)
    if group is None:
        raise not_found("group")
    return group
