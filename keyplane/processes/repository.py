"""Queries on processes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid
from keyplane.licensing.heartbeat import DEFAULT_DURATION
from keyplane.models import License, Machine, MachineProcess, Policy, User
from keyplane.processes.schemas import ProcessFilters, ProcessStatus


def pid_digest(pid: str) -> bytes:
    """What a pid's uniqueness on its machine is kept by (``machine_processes.pid_digest``)."""
    return hashlib.sha256(pid.encode()).digest()


async def page(
    session: AsyncSession,
    visible: list[ColumnElement[bool]],
    account_id: uuid.UUID,
    filters: ProcessFilters,
    paged: paging.Paging,
) -> paging.Page[MachineProcess]:
    """A page of the processes in view that pass ``filters``, all applied in SQL."""
    conditions = list(visible)
    for column, value in (
        (MachineProcess.product_id, filters.product),
        (MachineProcess.license_id, filters.license),
        (MachineProcess.machine_id, filters.machine),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.owner is not None:
        owned = select(Machine.id).where(Machine.account_id == account_id, Machine.owner_id == filters.owner)
        conditions.append(MachineProcess.machine_id.in_(owned))
    if filters.user is not None:
        user_id = as_uuid(filters.user)
        named = User.id == user_id if user_id is not None else User.email == filters.user.strip().lower()
        users = select(User.id).where(User.account_id == account_id, named)
        licenses = select(License.id).where(License.account_id == account_id, License.owner_id.in_(users))
        conditions.append(MachineProcess.license_id.in_(licenses))
    if filters.status is not None:
        conditions.append(await _status_condition(session, account_id, filters.status, clock.now()))
    return await paging.fetch(session, paged, select(MachineProcess), MachineProcess.id, conditions)


async def _status_condition(
    session: AsyncSession, account_id: uuid.UUID, status: ProcessStatus, now: datetime
) -> ColumnElement[bool]:
    """ALIVE or DEAD (Keygen's ``alive``/``dead`` scopes) as a condition. A process is alive
    while its last heartbeat is within its policy's heartbeat duration; for each duration the
    account's policies use (a handful) that is a plain comparison with a fixed instant, the
    same on SQLite and PostgreSQL (no interval arithmetic, which SQLite lacks)."""
    duration = func.coalesce(Policy.heartbeat_duration, DEFAULT_DURATION)
    durations = await session.scalars(select(duration).where(Policy.account_id == account_id).distinct())
    alive: list[ColumnElement[bool]] = []
    for seconds in durations:
        policies = select(Policy.id).where(Policy.account_id == account_id, duration == seconds)
        licenses = select(License.id).where(License.policy_id.in_(policies))
        alive.append(
            and_(
                MachineProcess.license_id.in_(licenses),
                MachineProcess.last_heartbeat >= now - timedelta(seconds=int(seconds)),
            )
        )
    condition = or_(false(), *alive)
    return condition if status == ProcessStatus.ALIVE else not_(condition)


async def by_id(
    session: AsyncSession, conditions: list[ColumnElement[bool]], ref: str, *, lock: bool = False
) -> MachineProcess | None:
    process_id = as_uuid(ref)
    if process_id is None:
        return None
    statement = select(MachineProcess).where(*conditions, MachineProcess.id == process_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def policy_of(session: AsyncSession, license_id: uuid.UUID) -> Policy | None:
    return await session.scalar(
        select(Policy).join(License, License.policy_id == Policy.id).where(License.id == license_id)
    )


async def policies_by_license(session: AsyncSession, license_ids: set[uuid.UUID]) -> dict[uuid.UUID, Policy]:
    if not license_ids:
        return {}
    rows = await session.execute(
        select(License.id, Policy)
        .join(Policy, Policy.id == License.policy_id)
        .where(License.id.in_(license_ids))
    )
    return {license_id: policy for license_id, policy in rows}


async def pid_taken(session: AsyncSession, machine_id: uuid.UUID, digest: bytes) -> bool:
    taken = select(MachineProcess.id).where(
        MachineProcess.machine_id == machine_id, MachineProcess.pid_digest == digest
    )
    return await session.scalar(taken) is not None


async def of_license(session: AsyncSession, license_id: uuid.UUID) -> Sequence[MachineProcess]:
    return (
        await session.scalars(select(MachineProcess).where(MachineProcess.license_id == license_id))
    ).all()


async def count(session: AsyncSession, *conditions: ColumnElement[bool]) -> int:
    found = await session.scalar(select(func.count()).select_from(MachineProcess).where(*conditions))
    return int(found or 0)


def on_machines_of(license_id: uuid.UUID, owner_id: uuid.UUID | None) -> ColumnElement[bool]:
    """Processes of ``license_id`` on machines owned by ``owner_id`` (no owner is an owner
    too: Keygen's PER_USER counts ownerless machines' processes together)."""
    owner = Machine.owner_id.is_(None) if owner_id is None else Machine.owner_id == owner_id
    machines = select(Machine.id).where(Machine.license_id == license_id, owner)
    return MachineProcess.machine_id.in_(machines)


async def delete_all(session: AsyncSession, process_ids: Sequence[uuid.UUID]) -> None:
    await session.execute(delete(MachineProcess).where(MachineProcess.id.in_(process_ids)))
