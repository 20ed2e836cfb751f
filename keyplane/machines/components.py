"""Machine components as their own resource (``/components``): added to a machine, read,
renamed and removed, by Keygen's ``MachineComponentPolicy``. The rules a component follows
are ``keyplane.components.rules``, shared with machine activation."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.components import repository
from keyplane.components.rules import add, refuse_blank
from keyplane.components.schemas import ComponentAttributes, ComponentFilters
from keyplane.errors import BadRequest
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.licensing.access import Action, authorize, owns_machine_record, view
from keyplane.licensing.records import not_found
from keyplane.licensing.status import protected
from keyplane.machines import service
from keyplane.models import License, MachineComponent, Policy


async def _may_write(
    session: AsyncSession, bearer: Bearer, machine_id: uuid.UUID, license: License, policy: Policy
) -> bool:
    owned = await service.owns(session, bearer, machine_id, license)
    return owns_machine_record(bearer, protected(license, policy), owned)


async def create(
    session: AsyncSession, bearer: Bearer, data: ComponentAttributes, machine_ref: str
) -> MachineComponent:
    """``POST /components``: a component of a machine the bearer may see."""
    refuse_blank([data], nested=False)
    machine, license, policy = await service.locked_for_child(
        session, bearer, machine_ref, "You do not have permission to add components to this machine"
    )
    authorize(
        bearer,
        "components",
        Action.CREATE,
        own=await _may_write(session, bearer, machine.id, license, policy),
    )
    [component] = await add(session, license, policy, machine.id, [data], nested=False)
    await events.record(
        session, bearer, EventName.COMPONENT_CREATED, component.id, product=component.product_id
    )
    return component


async def find(
    session: AsyncSession, bearer: Bearer, ref: str, *, lock: bool = False
) -> tuple[MachineComponent, License, Policy]:
    component = await repository.by_id(session, view(bearer, MachineComponent), ref, lock=lock)
    if component is None:
        raise not_found("component")
    license = await session.get(License, component.license_id)
    assert license is not None
    policy = await session.get(Policy, license.policy_id)
    assert policy is not None
    return component, license, policy


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> MachineComponent:
    component, _, _ = await find(session, bearer, ref)
    authorize(bearer, "components", Action.READ)
    return component


async def listing(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[ComponentFilters]
) -> paging.Page[MachineComponent]:
    authorize(bearer, "components", Action.READ)
    return await repository.page(
        session, view(bearer, MachineComponent), bearer.account.id, asked.filters, asked.paging
    )


async def update(
    session: AsyncSession, bearer: Bearer, ref: str, changes: dict[str, Any]
) -> MachineComponent:
    """Rename a component, or (staff and products) change its ``metadata``."""
    component, license, policy = await find(session, bearer, ref, lock=True)
    authorize(
        bearer,
        "components",
        Action.UPDATE,
        own=await _may_write(session, bearer, component.machine_id, license, policy),
    )
    if "metadata" in changes and not (bearer.is_staff or bearer.is_product):
        raise BadRequest(
            "is not a permitted attribute for your role",
            "ATTRIBUTE_NOT_PERMITTED",
            pointer="/data/attributes/metadata",
        )
    if "name" in changes:
        name = changes["name"]
        if name is None or not name.strip():
            raise BadRequest("cannot be blank", "NAME_MISSING", pointer="/data/attributes/name")
        component.name = name
    if "metadata" in changes:
        component.meta = dict(changes["metadata"] or {})
    await events.record(
        session,
        bearer,
        EventName.COMPONENT_UPDATED,
        component.id,
        changed=component,
        product=component.product_id,
    )
    component.updated_at = clock.now()
    await session.flush()
    return component


async def remove(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    component, license, policy = await find(session, bearer, ref)
    authorize(
        bearer,
        "components",
        Action.DELETE,
        own=await _may_write(session, bearer, component.machine_id, license, policy),
    )
    await events.record(
        session, bearer, EventName.COMPONENT_DELETED, component.id, product=component.product_id
    )
    await session.delete(component)
    await session.flush()
