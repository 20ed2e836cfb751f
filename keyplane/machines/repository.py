"""Queries on machines."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid
from keyplane.licensing import metadata
from keyplane.licensing.keystrings import digest
from keyplane.machines.schemas import MachineFilters
from keyplane.models import Credential, License, Machine, Policy, User
from keyplane.models.base import Total


def _user_ids(ref: str, account_id: uuid.UUID) -> Select[uuid.UUID]:
    """The id of the user named by id or email (none for an unknown one)."""
    user_id = as_uuid(ref)
    named = User.id == user_id if user_id is not None else User.email == ref.strip().lower()
    return select(User.id).where(User.account_id == account_id, named)


def _licenses(account_id: uuid.UUID, *named: ColumnElement[bool]) -> Select[uuid.UUID]:
    return select(License.id).where(License.account_id == account_id, *named)


def _license_named(ref: str) -> ColumnElement[bool]:
    """A license by id or by key."""
    license_id = as_uuid(ref)
    by_key = License.key_digest == digest(ref)
    return by_key if license_id is None else or_(License.id == license_id, by_key)


async def page(
    session: AsyncSession,
    visible: list[ColumnElement[bool]],
    account_id: uuid.UUID,
    filters: MachineFilters,
    paged: paging.Paging,
) -> paging.Page[Machine]:
    """A page of the machines in view that pass ``filters``, all of them applied in SQL."""
    conditions = list(visible)
    for column, value in (
        (Machine.fingerprint, filters.fingerprint),
        (Machine.ip, filters.ip),
        (Machine.hostname, filters.hostname),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.product is not None:
        conditions.append(Machine.product_id == filters.product)
    if filters.policy is not None:
        conditions.append(Machine.license_id.in_(_licenses(account_id, License.policy_id == filters.policy)))
    if filters.license is not None:
        conditions.append(Machine.license_id.in_(_licenses(account_id, _license_named(filters.license))))
    if filters.key is not None:
        by_key = License.key_digest == digest(filters.key)
        conditions.append(Machine.license_id.in_(_licenses(account_id, by_key)))
    if filters.license_id is not None:
        conditions.append(Machine.license_id == filters.license_id)
    if filters.group is not None:
        conditions.append(Machine.group_id == filters.group)
    if filters.owner is not None:
        conditions.append(Machine.owner_id.in_(_user_ids(filters.owner, account_id)))
    if filters.user is not None:
        users = _user_ids(filters.user, account_id)
        owned = _licenses(account_id, License.owner_id.in_(users))
        conditions.append(or_(Machine.owner_id.in_(users), Machine.license_id.in_(owned)))
    dialect = session.get_bind().dialect.name
    for key, value in filters.metadata:
        conditions.append(metadata.matches(Machine.meta, key, value, dialect))
    return await paging.fetch(session, paged, select(Machine), Machine.id, conditions)


async def policies_by_license(
    session: AsyncSession, license_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Policy]:
    """The policy of each of these licenses."""
    ids = set(license_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(License.id, Policy).join(Policy, Policy.id == License.policy_id).where(License.id.in_(ids))
    )
    return {license_id: policy for license_id, policy in rows}


async def licenses_of(session: AsyncSession, license_ids: Iterable[uuid.UUID]) -> Sequence[License]:
    ids = set(license_ids)
    if not ids:
        return []
    return (await session.scalars(select(License).where(License.id.in_(ids)))).all()


async def by_ref(
    session: AsyncSession, conditions: list[ColumnElement[bool]], ref: str, *, lock: bool = False
) -> Machine | None:
    """A machine by id, else by fingerprint (the newest such)."""
    machine_id = as_uuid(ref)
    candidates = [Machine.fingerprint == ref]
    if machine_id is not None:
        candidates.insert(0, Machine.id == machine_id)
    for candidate in candidates:
        statement = select(Machine).where(*conditions, candidate).order_by(Machine.id.desc()).limit(1)
        if lock:
            statement = statement.with_for_update()
        machine = await session.scalar(statement)
        if machine is not None:
            return machine
    return None


async def policy_of(session: AsyncSession, machine: Machine) -> Policy | None:
    return await session.scalar(
        select(Policy).join(License, License.policy_id == Policy.id).where(License.id == machine.license_id)
    )


async def of_license(session: AsyncSession, license_id: uuid.UUID) -> Sequence[Machine]:
    return (await session.scalars(select(Machine).where(Machine.license_id == license_id))).all()


async def delete_all(session: AsyncSession, machine_ids: Sequence[uuid.UUID]) -> None:
    await session.execute(delete(Machine).where(Machine.id.in_(machine_ids)))


async def usage(
    session: AsyncSession,
    license_id: uuid.UUID,
    except_id: uuid.UUID | None,
    *,
    per_owner: bool = False,
    owner_id: uuid.UUID | None = None,
) -> tuple[int, int, int, int]:
    """The license's machines (all but ``except_id``; ``per_owner``, only those of
    ``owner_id``, None meaning those without an owner): their count and summed cores, memory
    and disk."""
    others = [Machine.license_id == license_id]
    if except_id is not None:
        others.append(Machine.id != except_id)
    if per_owner:
        others.append(Machine.owner_id.is_(None) if owner_id is None else Machine.owner_id == owner_id)
    count, cores, memory, disk = (
        await session.execute(
            select(
                func.count(),
                Total(Machine.cores),
                Total(Machine.memory),
                Total(Machine.disk),
            ).where(*others)
        )
    ).one()
    return int(count), int(cores or 0), int(memory or 0), int(disk or 0)


async def fingerprint_taken(session: AsyncSession, scope: uuid.UUID, fingerprint: str) -> bool:
    taken = select(Machine.id).where(Machine.uniqueness_scope == scope, Machine.fingerprint == fingerprint)
    return await session.scalar(taken) is not None


async def id_taken(session: AsyncSession, account_id: uuid.UUID, machine_id: uuid.UUID) -> bool:
    clash = select(Machine.id).where(Machine.account_id == account_id, Machine.id == machine_id)
    return await session.scalar(clash) is not None


async def lock_license(session: AsyncSession, license_id: uuid.UUID) -> License | None:
    """The license row, locked: activations and updates of its machines lock it first."""
    return await session.scalar(select(License).where(License.id == license_id).with_for_update())


async def spend_token_activation(session: AsyncSession, token_id: uuid.UUID) -> bool:
    """Count one activation against the token, unless that would pass its maximum: one
    conditional UPDATE, so concurrent activations never count past it (the row's lock
    serializes them on PostgreSQL; SQLite has one writer)."""
    result = await session.execute(
        update(Credential)
        .where(
            Credential.id == token_id,
            (Credential.max_activations.is_(None)) | (Credential.activations < Credential.max_activations),
        )
        .values(activations=Credential.activations + 1, updated_at=clock.now())
        .returning(Credential.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def spend_token_deactivation(session: AsyncSession, token_id: uuid.UUID) -> bool:
    """``spend_token_activation`` for a deactivation."""
    result = await session.execute(
        update(Credential)
        .where(
            Credential.id == token_id,
            (Credential.max_deactivations.is_(None))
            | (Credential.deactivations < Credential.max_deactivations),
        )
        .values(deactivations=Credential.deactivations + 1, updated_at=clock.now())
        .returning(Credential.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def token_maxima(session: AsyncSession, token_id: uuid.UUID) -> tuple[int | None, int | None]:
    """The token's maximum activations and deactivations."""
    row = (
        await session.execute(
            select(Credential.max_activations, Credential.max_deactivations).where(Credential.id == token_id)
        )
    ).one()
    return row[0], row[1]
