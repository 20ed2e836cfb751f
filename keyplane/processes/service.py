"""Processes: spawning within the policy's process limit (leased per machine, license or
user), heartbeats, death and resurrection, and removal.

A spawn locks its license's row first, as machine activations do, so every count a limit
reads (the machine's, the license's or an owner's processes, all within one license) is
serialized: ``maxProcesses`` holds under any concurrency, on SQLite and PostgreSQL. A pid is
unique on its machine by a unique index.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.errors import BadRequest, InvalidResource, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.ids import uuid7
from keyplane.licensing import heartbeat
from keyplane.licensing.access import Action, authorize, owns_machine_record, view
from keyplane.licensing.machine_limits import OVERAGE_FACTORS, process_limit
from keyplane.licensing.records import not_found
from keyplane.licensing.status import protected
from keyplane.machines import service as machine_service
from keyplane.models import License, Machine, MachineProcess, Policy
from keyplane.models.policy import HeartbeatCullStrategy, HeartbeatResurrectionStrategy, OverageStrategy
from keyplane.models.policy import ProcessLeasingStrategy as Leasing
from keyplane.processes import repository
from keyplane.processes.schemas import ProcessCreateAttributes, ProcessFilters, ProcessStatus

_PID = "/data/attributes/pid"
RESERVED_PIDS = frozenset({"actions", "action"})
"""Keygen's ``EXCLUDED_ALIASES``: words its routes use where an id goes."""
_LEASED_BY = {Leasing.PER_MACHINE: "machine", Leasing.PER_LICENSE: "license", Leasing.PER_USER: "user"}


def interval(policy: Policy) -> int:
    """Seconds a heartbeat keeps a process alive: the policy's ``heartbeatDuration``, else
    Keygen's 10 minutes (a process's ``interval``)."""
    return int(heartbeat.duration(policy).total_seconds())


def status(process: MachineProcess, policy: Policy, now: datetime) -> ProcessStatus:
    """ALIVE while the next heartbeat is due no earlier than now (Keygen's ``status``)."""
    alive = process.last_heartbeat + heartbeat.duration(policy) >= now
    return ProcessStatus.ALIVE if alive else ProcessStatus.DEAD


def _culled(process: MachineProcess, policy: Policy, now: datetime) -> bool:
    """Whether a dead process is gone for good (Keygen's ``ProcessHeartbeatWorker``): under
    DEACTIVATE_DEAD, once the policy's resurrection window has passed (never under
    ALWAYS_REVIVE). Processes are always monitored, whatever ``requireHeartbeat`` says."""
    if policy.heartbeat_cull_strategy != HeartbeatCullStrategy.DEACTIVATE_DEAD:
        return False
    if policy.heartbeat_resurrection_strategy == HeartbeatResurrectionStrategy.ALWAYS_REVIVE:
        return False
    if status(process, policy, now) != ProcessStatus.DEAD:
        return False
    return not heartbeat.revives(process.last_heartbeat, policy, now)


async def _cull(session: AsyncSession, bearer: Bearer, license: License, policy: Policy) -> None:
    """Dead processes of the license that will never revive stop holding a lease: they are
    removed (the system's doing, found while ``bearer`` spawns another), each with its
    ``process.heartbeat.dead`` and ``process.deleted``."""
    now = clock.now()
    dead = [p.id for p in await repository.of_license(session, license.id) if _culled(p, policy, now)]
    if not dead:
        return
    system = Bearer.system(bearer.account)
    for process_id in dead:
        for event, metadata in (
            (EventName.PROCESS_HEARTBEAT_DEAD, None),
            (EventName.PROCESS_DELETED, {"reason": "culled"}),
        ):
            await events.record(
                session, system, event, process_id, metadata=metadata, product=license.product_id
            )
    await repository.delete_all(session, dead)


async def _check_limit(session: AsyncSession, license: License, policy: Policy, machine: Machine) -> None:
    """Keygen's ``MachineProcess`` create validation: the processes leased where the policy's
    ``processLeasingStrategy`` counts them, plus this one, within ``maxProcesses`` and the
    overage the policy tolerates."""
    maximum = process_limit(license, policy)
    if maximum is None or policy.overage_strategy == OverageStrategy.ALWAYS_ALLOW_OVERAGE:
        return
    leasing = policy.process_leasing_strategy
    match leasing:
        case Leasing.PER_MACHINE:
            counted = await repository.count(session, MachineProcess.machine_id == machine.id)
        case Leasing.PER_LICENSE:
            counted = await repository.count(session, MachineProcess.license_id == license.id)
        case Leasing.PER_USER:
            counted = await repository.count(session, repository.on_machines_of(license.id, machine.owner_id))
    if counted + 1 <= maximum * OVERAGE_FACTORS.get(policy.overage_strategy, 1.0):
        return
    raise InvalidResource(
        f"process count has exceeded maximum allowed for {_LEASED_BY[leasing]} ({maximum})",
        "MACHINE_PROCESS_LIMIT_EXCEEDED",
        pointer="/data",
    )


async def _may_write(
    session: AsyncSession, bearer: Bearer, machine_id: uuid.UUID, license: License, policy: Policy
) -> bool:
    owned = await machine_service.owns(session, bearer, machine_id, license)
    return owns_machine_record(bearer, protected(license, policy), owned)


async def spawn(
    session: AsyncSession, bearer: Bearer, data: ProcessCreateAttributes, machine_ref: str
) -> tuple[MachineProcess, Policy]:
    """``POST /processes``: a process on a machine the bearer may see."""
    if not data.pid.strip():
        raise BadRequest("cannot be blank", "PID_MISSING", pointer=_PID)
    found, license, policy = await machine_service.locked_for_child(
        session, bearer, machine_ref, "You do not have permission to spawn processes for this machine"
    )
    authorize(
        bearer, "processes", Action.CREATE, own=await _may_write(session, bearer, found.id, license, policy)
    )
    if data.pid in RESERVED_PIDS:
        raise InvalidResource("is reserved", "PID_NOT_ALLOWED", pointer=_PID)
    digest = repository.pid_digest(data.pid)
    await _cull(session, bearer, license, policy)
    if await repository.pid_taken(session, found.id, digest):
        raise InvalidResource("has already been taken", "PID_TAKEN", pointer=_PID)
    await _check_limit(session, license, policy, found)
    now = clock.now()
    process = MachineProcess(
        id=uuid7(),
        account_id=license.account_id,
        product_id=license.product_id,
        license_id=license.id,
        machine_id=found.id,
        pid=data.pid,
        pid_digest=digest,
        meta=data.metadata or {},
        last_heartbeat=now,
        created_at=now,
        updated_at=now,
    )
    session.add(process)
    try:
        await session.flush()
    except IntegrityError:
        # The same pid spawned on this machine meanwhile (the license lock makes this rare).
        raise InvalidResource("has already been taken", "PID_TAKEN", pointer=_PID) from None
    await events.record(session, bearer, EventName.PROCESS_CREATED, process.id, product=process.product_id)
    return process, policy


async def find(
    session: AsyncSession, bearer: Bearer, ref: str, *, lock: bool = False
) -> tuple[MachineProcess, License, Policy]:
    """A process the bearer may see, by id, or 404."""
    process = await repository.by_id(session, view(bearer, MachineProcess), ref, lock=lock)
    if process is None:
        raise not_found("process")
    license = await session.get(License, process.license_id)
    assert license is not None
    policy = await session.get(Policy, license.policy_id)
    assert policy is not None
    return process, license, policy


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[MachineProcess, Policy]:
    process, _, policy = await find(session, bearer, ref)
    authorize(bearer, "processes", Action.READ)
    return process, policy


async def listing(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[ProcessFilters]
) -> tuple[paging.Page[MachineProcess], dict[uuid.UUID, Policy]]:
    authorize(bearer, "processes", Action.READ)
    page = await repository.page(
        session, view(bearer, MachineProcess), bearer.account.id, asked.filters, asked.paging
    )
    policies = await repository.policies_by_license(session, {p.license_id for p in page.items})
    return page, policies


async def update(
    session: AsyncSession, bearer: Bearer, ref: str, metadata: dict[str, object] | None, sent: bool
) -> tuple[MachineProcess, Policy]:
    """Change a process's ``metadata`` (staff and products only, as Keygen permits it)."""
    process, license, policy = await find(session, bearer, ref, lock=True)
    authorize(
        bearer,
        "processes",
        Action.UPDATE,
        own=await _may_write(session, bearer, process.machine_id, license, policy),
    )
    if sent:
        if not (bearer.is_staff or bearer.is_product):
            raise BadRequest(
                "is not a permitted attribute for your role",
                "ATTRIBUTE_NOT_PERMITTED",
                pointer="/data/attributes/metadata",
            )
        process.meta = dict(metadata or {})
    await events.record(
        session, bearer, EventName.PROCESS_UPDATED, process.id, changed=process, product=process.product_id
    )
    process.updated_at = clock.now()
    await session.flush()
    return process, policy


async def kill(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    """``DELETE /processes/{id}``: the lease is free at once."""
    process, license, policy = await find(session, bearer, ref)
    authorize(
        bearer,
        "processes",
        Action.DELETE,
        own=await _may_write(session, bearer, process.machine_id, license, policy),
    )
    await events.record(session, bearer, EventName.PROCESS_DELETED, process.id, product=process.product_id)
    await session.delete(process)
    await session.flush()


async def ping(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[MachineProcess, Policy, bool]:
    """A process's heartbeat: alive for another ``interval``. A dead process revives only as
    the policy's resurrection strategy allows (422 ``PROCESS_HEARTBEAT_DEAD`` otherwise); the
    flag says this ping revived it."""
    process, license, policy = await find(session, bearer, ref, lock=True)
    authorize(
        bearer,
        "process-heartbeats",
        Action.UPDATE,
        own=await _may_write(session, bearer, process.machine_id, license, policy),
    )
    now = clock.now()
    dead = status(process, policy, now) == ProcessStatus.DEAD
    if dead and not heartbeat.revives(process.last_heartbeat, policy, now):
        raise Unprocessable("is dead", "PROCESS_HEARTBEAT_DEAD", pointer="/data/attributes/status")
    process.last_heartbeat = now
    process.updated_at = now
    event = EventName.PROCESS_HEARTBEAT_RESURRECTED if dead else EventName.PROCESS_HEARTBEAT_PING
    await events.record(session, bearer, event, process.id, product=process.product_id)
    await session.flush()
    return process, policy, dead
