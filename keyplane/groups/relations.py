"""A license's, machine's or user's group: reading it, and changing it within the new
group's limits (Keygen: app/controllers/api/v1/{licenses,machines,users}/relationships/
groups_controller.rb and their policies)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import STAFF, Role, Scope
from keyplane.errors import Forbidden
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.groups import repository
from keyplane.groups import service as groups
from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid
from keyplane.licenses import service as licenses
from keyplane.licensing.access import view
from keyplane.licensing.membership import MEMBERS, Members, admit
from keyplane.licensing.records import not_found
from keyplane.machines import repository as machine_rows
from keyplane.machines import service as machines
from keyplane.models import License, Machine, Policy, User
from keyplane.users import repository as users

_CHANGERS = frozenset({Role.ADMIN, Role.DEVELOPER, Role.SALES_AGENT, Role.PRODUCT})


def _may_change(bearer: Bearer, noun: str) -> None:
    if not bearer.has(Scope.UPDATE):
        raise Forbidden(
            "This credential lacks the UPDATE scope (or its owner's role does)", "INSUFFICIENT_SCOPE"
        )
    if bearer.role not in _CHANGERS:
        raise Forbidden(
            f"You do not have permission to change a {noun}'s group (role {bearer.role.value})",
            "ACCESS_DENIED",
        )


async def _move(
    session: AsyncSession,
    bearer: Bearer,
    record: License | Machine | User,
    group_ref: uuid.UUID | None,
    members: Members,
    event: EventName,
    product: uuid.UUID | None = None,
) -> None:
    group_id = None
    if group_ref is not None:
        if group_ref == record.group_id:
            group_id = group_ref  # already there: not a new member
        else:
            group_id = (await admit(session, bearer.account.id, group_ref, members)).id
    if group_id == record.group_id:
        return
    record.group_id = group_id
    record.updated_at = clock.now()
    await events.record(
        session,
        bearer,
        event,
        record.id,
        metadata={"group": None if group_id is None else str(group_id)},
        product=product,
    )
    await session.flush()


async def license_group(
    session: AsyncSession, bearer: Bearer, ref: str, group_ref: uuid.UUID | None
) -> tuple[License, Policy]:
    """Move a license to a group (or out of any); 422 past the group's ``maxLicenses``."""
    license = await licenses.find(session, bearer, ref, lock=True)
    _may_change(bearer, "license")
    await _move(
        session, bearer, license, group_ref, "licenses", EventName.LICENSE_GROUP_UPDATED, license.product_id
    )
    return await licenses.get(session, bearer, str(license.id))


async def machine_group(
    session: AsyncSession, bearer: Bearer, ref: str, group_ref: uuid.UUID | None
) -> tuple[Machine, Policy]:
    """Move a machine to a group (or out of any); 422 past the group's ``maxMachines``."""
    machine, policy = await machines.find(session, bearer, ref, lock=True)
    _may_change(bearer, "machine")
    await _move(
        session, bearer, machine, group_ref, "machines", EventName.MACHINE_GROUP_UPDATED, machine.product_id
    )
    return machine, policy


async def find_user(session: AsyncSession, bearer: Bearer, ref: str, *, lock: bool = False) -> User:
    """A user the bearer may see on the licensing API: staff any, a product token an end
    customer (role ``user``), a user themselves; else 404."""
    user_id = as_uuid(ref)
    user = None
    if user_id is not None:
        user = await users.by_id(session, bearer.account.id, user_id)
    else:
        user = await users.by_email(session, bearer.account.id, ref)
    if user is None:
        raise not_found("user")
    visible = (
        bearer.role in STAFF
        or (bearer.is_product and user.role == Role.USER.value)
        or (bearer.user_id is not None and bearer.user_id == user.id)
    )
    if not visible:
        raise not_found("user")
    if lock:
        await session.refresh(user, with_for_update=True)
    return user


async def user_group(session: AsyncSession, bearer: Bearer, ref: str, group_ref: uuid.UUID | None) -> User:
    """Move a user to a group (or out of any); 422 past the group's ``maxUsers``."""
    user = await find_user(session, bearer, ref, lock=True)
    _may_change(bearer, "user")
    await _move(session, bearer, user, group_ref, "users", EventName.USER_GROUP_UPDATED)
    return user


async def members(
    session: AsyncSession, bearer: Bearer, group_ref: str, kind: Members, asked: paging.Listed[None]
) -> paging.Page[Any]:
    """A page of the group's licenses, machines or users, newest first: those the bearer
    sees (Keygen: app/policies/groups/{license,machine,user}_policy.rb: staff all, a product
    token its product's, the group's owners all, others none)."""
    group = await groups.find(session, bearer, group_ref)
    if not bearer.has(Scope.READ):
        raise Forbidden(
            "This credential lacks the READ scope (or its owner's role does)", "INSUFFICIENT_SCOPE"
        )
    # A user who owns the group sees all its members (Keygen's ``for_group_owner``).
    owner = bearer.user_id is not None and await repository.owns(session, group.id, bearer.user_id)
    if not (bearer.is_staff or bearer.is_product or owner):
        raise Forbidden(
            f"You do not have permission to read a group's {kind} (role {bearer.role.value})", "ACCESS_DENIED"
        )
    visible: list[ColumnElement[bool]]
    if owner and not bearer.is_staff:
        visible = [MEMBERS[kind].account_id == bearer.account.id]
    elif kind == "licenses":
        visible = view(bearer, License)
    elif kind == "machines":
        visible = view(bearer, Machine)
    else:
        visible = [User.account_id == bearer.account.id]
        if bearer.is_product:
            visible.append(User.role == Role.USER.value)
    return await repository.members(session, MEMBERS[kind], visible, group.id, asked.paging)


async def member_machines(
    session: AsyncSession, bearer: Bearer, group_ref: str, asked: paging.Listed[None]
) -> tuple[paging.Page[Machine], dict[uuid.UUID, Policy]]:
    """``members`` of machines, with the policy of each machine's license."""
    page = await members(session, bearer, group_ref, "machines", asked)
    return page, await machine_rows.policies_by_license(session, (item.license_id for item in page.items))
