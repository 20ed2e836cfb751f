"""Queries on machine components."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.components.schemas import ComponentFilters
from keyplane.kit import paging
from keyplane.kit.ids import as_uuid
from keyplane.models import License, Machine, MachineComponent, User
from keyplane.models.policy import ComponentUniquenessStrategy as Unique


def fingerprint_digest(fingerprint: str) -> bytes:
    """What a component fingerprint's uniqueness is kept by (``fingerprint_digest``)."""
    return hashlib.sha256(fingerprint.encode()).digest()


async def page(
    session: AsyncSession,
    visible: list[ColumnElement[bool]],
    account_id: uuid.UUID,
    filters: ComponentFilters,
    paged: paging.Paging,
) -> paging.Page[MachineComponent]:
    """A page of the components in view that pass ``filters``, all applied in SQL."""
    conditions = list(visible)
    for column, value in (
        (MachineComponent.product_id, filters.product),
        (MachineComponent.license_id, filters.license),
        (MachineComponent.machine_id, filters.machine),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.owner is not None:
        owned = select(Machine.id).where(Machine.account_id == account_id, Machine.owner_id == filters.owner)
        conditions.append(MachineComponent.machine_id.in_(owned))
    if filters.user is not None:
        user_id = as_uuid(filters.user)
        named = User.id == user_id if user_id is not None else User.email == filters.user.strip().lower()
        users = select(User.id).where(User.account_id == account_id, named)
        licenses = select(License.id).where(License.account_id == account_id, License.owner_id.in_(users))
        conditions.append(MachineComponent.license_id.in_(licenses))
    return await paging.fetch(session, paged, select(MachineComponent), MachineComponent.id, conditions)


async def by_id(
    session: AsyncSession, conditions: list[ColumnElement[bool]], ref: str, *, lock: bool = False
) -> MachineComponent | None:
    component_id = as_uuid(ref)
    if component_id is None:
        return None
    statement = select(MachineComponent).where(*conditions, MachineComponent.id == component_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def taken(
    session: AsyncSession,
    strategy: Unique,
    license: License,
    machine_id: uuid.UUID,
    digests: Collection[bytes],
) -> set[bytes]:
    """Which of ``digests`` are already the fingerprint of a component where ``strategy``
    looks (app/models/machine_component.rb): the account's components, the product's, those
    of licenses of the same policy, the license's, or the machine's."""
    match strategy:
        case Unique.UNIQUE_PER_ACCOUNT:
            where = MachineComponent.account_id == license.account_id
        case Unique.UNIQUE_PER_PRODUCT:
            where = MachineComponent.product_id == license.product_id
        case Unique.UNIQUE_PER_POLICY:
            siblings = select(License.id).where(License.policy_id == license.policy_id)
            where = MachineComponent.license_id.in_(siblings)
        case Unique.UNIQUE_PER_LICENSE:
            where = MachineComponent.license_id == license.id
        case Unique.UNIQUE_PER_MACHINE:
            where = MachineComponent.machine_id == machine_id
    found = await session.scalars(
        select(MachineComponent.fingerprint_digest).where(
            MachineComponent.account_id == license.account_id,
            where,
            MachineComponent.fingerprint_digest.in_(list(digests)),
        )
    )
    return set(found)


async def of_machine(session: AsyncSession, machine_id: uuid.UUID) -> list[MachineComponent]:
    """A machine's components, oldest first (what a machine file's ``components`` embeds)."""
    found = await session.scalars(
        select(MachineComponent)
        .where(MachineComponent.machine_id == machine_id)
        .order_by(MachineComponent.id)
    )
    return list(found)


async def fingerprints_of(
    session: AsyncSession, license_id: uuid.UUID, machine_fingerprint: str
) -> frozenset[str]:
    """The component fingerprints of the license's machine(s) with this fingerprint (what a
    validation's ``components`` scope is matched against)."""
    machines = select(Machine.id).where(
        Machine.license_id == license_id, Machine.fingerprint == machine_fingerprint
    )
    found = await session.scalars(
        select(MachineComponent.fingerprint).where(MachineComponent.machine_id.in_(machines))
    )
    return frozenset(found)
