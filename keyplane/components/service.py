"""Machine components: added on their own or with a machine's activation, unique where the
policy's ``componentUniquenessStrategy`` looks, read, renamed and removed.

Adding one locks its license's row first, as machine activations do, so the uniqueness
checks of one license are serialized; across licenses a unique index over the strategy's
scope holds (as for machine fingerprints).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.components import repository
from keyplane.components.schemas import NESTED_MAX, ComponentAttributes, ComponentFilters
from keyplane.errors import BadRequest, InvalidResource, InvalidResources, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.ids import uuid7
from keyplane.licenses.status import protected
from keyplane.licensing.access import Action, authorize, owns_machine_record, view
from keyplane.licensing.records import not_found, target
from keyplane.machines import repository as machines
from keyplane.models import License, Machine, MachineComponent, Policy
from keyplane.models.policy import ComponentUniquenessStrategy as Unique

RESERVED = frozenset({"actions", "action"})
"""Keygen's ``EXCLUDED_ALIASES``: words its routes use where an id goes."""
TAKEN_IN = {
    Unique.UNIQUE_PER_ACCOUNT: "has already been taken for this account",
    Unique.UNIQUE_PER_PRODUCT: "has already been taken for this product",
    Unique.UNIQUE_PER_POLICY: "has already been taken for this policy",
    Unique.UNIQUE_PER_LICENSE: "has already been taken for this license",
    Unique.UNIQUE_PER_MACHINE: "has already been taken",
}
"""Keygen's detail for a taken fingerprint, by strategy."""


class _Where:
    """Where a component's errors point, and their codes: its own document's attributes, or
    one of a machine's nested components (``COMPONENTS_`` codes, the item's index)."""

    def __init__(self, index: int | None) -> None:
        self.index = index

    def pointer(self, name: str) -> str:
        if self.index is None:
            return f"/data/attributes/{name}"
        return f"/data/relationships/components/data/{self.index}/attributes/{name}"

    def code(self, code: str) -> str:
        return code if self.index is None else f"COMPONENTS_{code}"

    def invalid(self, detail: str, code: str, name: str = "fingerprint") -> InvalidResource:
        return InvalidResource(detail, self.code(code), pointer=self.pointer(name))


def refuse_blank(items: Sequence[ComponentAttributes], *, nested: bool) -> None:
    """400 "cannot be blank" for a blank fingerprint or name (Keygen's typed params), before
    anything is looked up; 422 "too many records" past 20 nested components."""
    if nested and len(items) > NESTED_MAX:
        raise Unprocessable(
            "too many records", "COMPONENTS_LIMIT_EXCEEDED", pointer="/data/relationships/components"
        )
    for index, item in enumerate(items):
        where = _Where(index if nested else None)
        for name in ("fingerprint", "name"):
            if not getattr(item, name).strip():
                raise BadRequest(
                    "cannot be blank", where.code(f"{name.upper()}_MISSING"), pointer=where.pointer(name)
                )


def uniqueness_scope(strategy: Unique, license: License, machine_id: uuid.UUID) -> uuid.UUID:
    match strategy:
        case Unique.UNIQUE_PER_ACCOUNT:
            return license.account_id
        case Unique.UNIQUE_PER_PRODUCT:
            return license.product_id
        case Unique.UNIQUE_PER_POLICY:
            return license.policy_id
        case Unique.UNIQUE_PER_LICENSE:
            return license.id
        case Unique.UNIQUE_PER_MACHINE:
            return machine_id


async def add(
    session: AsyncSession,
    license: License,
    policy: Policy,
    machine_id: uuid.UUID,
    items: Sequence[ComponentAttributes],
    *,
    nested: bool,
) -> list[MachineComponent]:
    """Add ``items`` to the machine (its license's row locked by the caller): 422 for a
    fingerprint that is reserved, repeated among ``items`` ("is duplicated") or already
    taken where the policy's strategy looks, every such error listed."""
    strategy = policy.component_uniqueness_strategy
    digests = [repository.fingerprint_digest(item.fingerprint) for item in items]
    repeated = Counter(digests)
    taken = await repository.taken(session, strategy, license, machine_id, set(digests))
    errors: list[InvalidResource] = []
    for index, (item, digest) in enumerate(zip(items, digests, strict=True)):
        where = _Where(index if nested else None)
        if item.fingerprint in RESERVED:
            errors.append(where.invalid("is reserved", "FINGERPRINT_NOT_ALLOWED"))
        elif repeated[digest] > 1:
            errors.append(where.invalid("is duplicated", "FINGERPRINT_CONFLICT"))
        elif digest in taken:
            errors.append(where.invalid(TAKEN_IN[strategy], "FINGERPRINT_TAKEN"))
    if errors:
        raise errors[0] if len(errors) == 1 else InvalidResources(errors)
    scope = uniqueness_scope(strategy, license, machine_id)
    now = clock.now()
    added = [
        MachineComponent(
            id=uuid7(),
            account_id=license.account_id,
            product_id=license.product_id,
            license_id=license.id,
            machine_id=machine_id,
            uniqueness_scope=scope,
            fingerprint=item.fingerprint,
            fingerprint_digest=digest,
            name=item.name,
            meta=item.metadata or {},
            created_at=now,
            updated_at=now,
        )
        for item, digest in zip(items, digests, strict=True)
    ]
    session.add_all(added)
    try:
        await session.flush()
    except IntegrityError:
        # Another license of the same scope took a fingerprint meanwhile.
        raise _Where(0 if nested else None).invalid(TAKEN_IN[strategy], "FINGERPRINT_TAKEN") from None
    return added


def _may_write(bearer: Bearer, license: License, policy: Policy) -> bool:
    return owns_machine_record(bearer, protected(license, policy))


async def create(
    session: AsyncSession, bearer: Bearer, data: ComponentAttributes, machine_ref: str
) -> MachineComponent:
    """``POST /components``: a component of a machine the bearer may see."""
    refuse_blank([data], nested=False)
    machine = await target(
        session,
        bearer,
        Machine,
        machine_ref,
        view(bearer, Machine),
        code="MACHINE_NOT_FOUND",
        pointer="/data/relationships/machine",
        denied="You do not have permission to add components to this machine",
    )
    license = await machines.lock_license(session, machine.license_id)
    assert license is not None
    policy = await session.get(Policy, license.policy_id)
    assert policy is not None
    authorize(bearer, "components", Action.CREATE, own=_may_write(bearer, license, policy))
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
    authorize(bearer, "components", Action.UPDATE, own=_may_write(bearer, license, policy))
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
    authorize(bearer, "components", Action.DELETE, own=_may_write(bearer, license, policy))
    await events.record(
        session, bearer, EventName.COMPONENT_DELETED, component.id, product=component.product_id
    )
    await session.delete(component)
    await session.flush()
