"""Machines: activation within the license's limits, heartbeats, deactivation.

Activations of one license are serialized by locking the license row (SQLite serializes
every writer anyway), so ``maxMachines`` holds under any concurrency, for the license or,
under PER_USER, for each of its users; the fingerprint's
uniqueness is a unique index over the scope the policy names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import assert_never

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Role
from keyplane.components.rules import add as add_components
from keyplane.components.rules import refuse_blank
from keyplane.components.schemas import ComponentAttributes
from keyplane.db import touched
from keyplane.errors import Forbidden, InvalidResource, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid, uuid7
from keyplane.licenses import expiry
from keyplane.licenses import repository as licenses
from keyplane.licensing import heartbeat, membership
from keyplane.licensing.access import Action, authorize, owns_machine, view
from keyplane.licensing.heartbeat import HeartbeatStatus
from keyplane.licensing.keystrings import RESERVED
from keyplane.licensing.machine_limits import OVERAGE_FACTORS, holder, machine_limit, per_user, process_limit
from keyplane.licensing.records import not_found, target
from keyplane.licensing.schemas import GroupRelationship
from keyplane.licensing.status import protected
from keyplane.machines import repository
from keyplane.machines import tokens as license_tokens
from keyplane.machines.schemas import MachineAttributes, MachineCreateAttributes, MachineFilters
from keyplane.models import License, Machine, Policy
from keyplane.models.policy import ExpirationBasis, HeartbeatBasis, MachineUniquenessStrategy, OverageStrategy

_FINGERPRINT = "/data/attributes/fingerprint"
UNIQUE_IN: dict[MachineUniquenessStrategy, str] = {
    MachineUniquenessStrategy.UNIQUE_PER_ACCOUNT: "the account",
    MachineUniquenessStrategy.UNIQUE_PER_PRODUCT: "this product",
    MachineUniquenessStrategy.UNIQUE_PER_POLICY: "this policy",
    MachineUniquenessStrategy.UNIQUE_PER_LICENSE: "this license",
}
"""What a fingerprint is unique in, by strategy: every strategy has its words."""


def _uniqueness_scope(license: License, policy: Policy) -> uuid.UUID:
    match policy.machine_uniqueness_strategy:
        case MachineUniquenessStrategy.UNIQUE_PER_ACCOUNT:
            return license.account_id
        case MachineUniquenessStrategy.UNIQUE_PER_PRODUCT:
            return license.product_id
        case MachineUniquenessStrategy.UNIQUE_PER_POLICY:
            return policy.id
        case MachineUniquenessStrategy.UNIQUE_PER_LICENSE:
            return license.id
        case _:
            assert_never(policy.machine_uniqueness_strategy)


async def _locked_license(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[License, Policy]:
    found = await target(
        session,
        bearer,
        License,
        ref,
        view(bearer, License),
        code="LICENSE_NOT_FOUND",
        pointer="/data/relationships/license",
        denied="You do not have permission to activate machines for this license",
    )
    # Serializes activations of this license (SQLite: the write lock already does).
    locked = await repository.lock_license(session, found.id)
    assert locked is not None
    policy = await session.get(Policy, locked.policy_id)
    assert policy is not None
    return locked, policy


async def _cull(session: AsyncSession, bearer: Bearer, license: License, policy: Policy) -> None:
    """Under DEACTIVATE_DEAD, dead machines stop holding a seat: remove them (the system's
    doing, found while ``bearer`` activates another)."""
    if not heartbeat.culls(policy):
        return
    now = clock.now()
    machines = await repository.of_license(session, license.id)
    dead = [m.id for m in machines if heartbeat.status(m, policy, now) == HeartbeatStatus.DEAD]
    if dead:
        system = Bearer.system(bearer.account)
        for machine_id in dead:
            await events.record(
                session, system, EventName.MACHINE_HEARTBEAT_DEAD, machine_id, product=license.product_id
            )
            await events.record(
                session,
                system,
                EventName.MACHINE_DELETED,
                machine_id,
                metadata={"reason": "culled"},
                product=license.product_id,
            )
        await repository.delete_all(session, dead)
        touched(session, license.id)


async def _check_limits(
    session: AsyncSession,
    license: License,
    policy: Policy,
    data: MachineAttributes,
    owner_id: uuid.UUID | None,
    *,
    replacing: Machine | None = None,
) -> None:
    """The license's machine, core, memory and disk limits with ``data`` added (or, on an
    update, standing in for ``replacing``'s values), counted over the machines of
    ``owner_id`` (None: those without an owner) when the policy leases machines per user."""
    except_id = None if replacing is None else replacing.id
    count, cores, memory, disk = await repository.usage(
        session, license.id, except_id, per_owner=per_user(policy), owner_id=owner_id
    )
    limit = machine_limit(license, policy)
    whom = holder(policy)
    # The first machine (of the owner, under PER_USER) is always accepted (Keygen's rule),
    # whatever the limit says.
    if replacing is None and count and limit is not None and count >= limit:
        raise InvalidResource(
            f"machine count has exceeded maximum allowed for {whom} ({limit})",
            "MACHINE_LIMIT_EXCEEDED",
            pointer="/data",
        )
    if policy.overage_strategy == OverageStrategy.ALWAYS_ALLOW_OVERAGE:
        return
    factor = OVERAGE_FACTORS.get(policy.overage_strategy, 1.0)
    for used, added, override, allowed, code in (
        (cores, data.cores, license.max_cores, policy.max_cores, "MACHINE_CORE_LIMIT_EXCEEDED"),
        (memory, data.memory, license.max_memory, policy.max_memory, "MACHINE_MEMORY_LIMIT_EXCEEDED"),
        (disk, data.disk, license.max_disk, policy.max_disk, "MACHINE_DISK_LIMIT_EXCEEDED"),
    ):
        maximum = allowed if override is None else override
        # Unlike the machine count, the sums count the first machine too (Keygen's rule), and
        # the policy's overage applies to them as to the count.
        if maximum is not None and added is not None and int(used or 0) + added > maximum * factor:
            raise InvalidResource(
                f"exceeds the maximum allowed for {whom} ({maximum})", code, pointer="/data"
            )


async def locked_for_child(
    session: AsyncSession, bearer: Bearer, machine_ref: str, denied: str
) -> tuple[Machine, License, Policy]:
    """The machine a new process or component names (``relationships.machine``: one the
    bearer may see, else 422 ``MACHINE_NOT_FOUND``; ``denied`` when it may see it but not
    act), with its license locked (the order machine activations lock in, so the counts
    that follow hold under concurrency) and its policy."""
    machine = await target(
        session,
        bearer,
        Machine,
        machine_ref,
        view(bearer, Machine),
        code="MACHINE_NOT_FOUND",
        pointer="/data/relationships/machine",
        denied=denied,
    )
    license = await repository.lock_license(session, machine.license_id)
    assert license is not None  # the foreign key holds it
    policy = await session.get(Policy, license.policy_id)
    assert policy is not None
    return machine, license, policy


async def activate(
    session: AsyncSession,
    bearer: Bearer,
    data: MachineCreateAttributes,
    license_ref: str,
    owner_ref: str | None,
    group: GroupRelationship | None = None,
    components: Sequence[ComponentAttributes] = (),
) -> tuple[Machine, Policy]:
    """Activate a machine, with its hardware ``components`` (Keygen's nested ones: added
    with the machine or not at all, under the policy's component uniqueness strategy)."""
    refuse_blank(components, nested=True)
    authorize(bearer, "machines", Action.CREATE, own=True)
    membership.refuse_unpermitted(group, bearer.is_staff or bearer.is_product)
    license, policy = await _locked_license(session, bearer, license_ref)
    token = bearer.license_token_id
    # A license's token activates its machines even when the license is protected: that is
    # what the vendor issues one for (Keygen's activation tokens).
    if not (bearer.is_staff or bearer.is_product or token is not None) and protected(license, policy):
        raise Forbidden("The license is protected: only staff may activate its machines", "LICENSE_PROTECTED")
    owner = None
    if owner_ref is not None:
        owner = await licenses.user_by_ref(session, bearer.account.id, owner_ref)
        if owner is None:
            raise InvalidResource("must exist", "OWNER_NOT_FOUND", pointer="/data/relationships/owner")
        # A license user: its owner or one of its licensees (Keygen's ``machine.rb``).
        if owner.id != license.owner_id and not await licenses.is_licensee(session, license.id, owner.id):
            raise InvalidResource(
                "must be a valid license user", "OWNER_INVALID", pointer="/data/relationships/owner"
            )
    if not owns_machine(bearer, None if owner is None else owner.id, license.owner_id):
        # A licensee activates a machine of the license only as its owner (Keygen's
        # ``machine_policy.rb#create?``).
        raise Forbidden("You do not have permission to activate machines for this license", "ACCESS_DENIED")
    if data.fingerprint in RESERVED:
        # Keygen's ``EXCLUDED_ALIASES``: a machine found by fingerprint must not shadow the
        # ``/machines/actions/...`` routes.
        raise InvalidResource("is reserved", "FINGERPRINT_NOT_ALLOWED", pointer=_FINGERPRINT)
    scope = _uniqueness_scope(license, policy)
    await _cull(session, bearer, license, policy)
    if await repository.fingerprint_taken(session, scope, data.fingerprint):
        where = UNIQUE_IN[policy.machine_uniqueness_strategy]
        raise InvalidResource(
            f"has already been taken for {where}", "FINGERPRINT_TAKEN", pointer=_FINGERPRINT
        )
    fingerprint_id = as_uuid(data.fingerprint)
    if fingerprint_id is not None and await repository.id_taken(session, license.account_id, fingerprint_id):
        raise InvalidResource(
            "conflicts with an existing machine", "FINGERPRINT_CONFLICT", pointer=_FINGERPRINT
        )
    await _check_limits(session, license, policy, data, None if owner is None else owner.id)
    group_id = await membership.join(
        session,
        license.account_id,
        group,
        license.group_id or (owner.group_id if owner is not None else None),
        "machines",
    )
    if token is not None:
        await license_tokens.spend_activation(session, token)
    machine = Machine(
        id=uuid7(),
        account_id=license.account_id,
        product_id=license.product_id,
        license_id=license.id,
        # No owner unless one is named (Keygen's ``machine.rb``: ``owner`` is optional and
        # never taken from the license).
        owner_id=owner.id if owner is not None else None,
        group_id=group_id,
        uniqueness_scope=scope,
        fingerprint=data.fingerprint,
        meta={},
    )
    _apply(machine, data, set(data.model_fields_set))
    if policy.heartbeat_basis == HeartbeatBasis.FROM_CREATION:
        # The heartbeat clock starts at activation: the machine is alive from the start,
        # whether or not the policy requires heartbeats (Keygen's ``machine.rb``).
        machine.last_heartbeat = machine.created_at = clock.now()
    session.add(machine)
    try:
        await session.flush()
    except IntegrityError:
        # Another license of the same uniqueness scope activated this fingerprint meanwhile.
        raise InvalidResource("has already been taken", "FINGERPRINT_TAKEN", pointer=_FINGERPRINT) from None
    if components:
        await add_components(session, license, policy, machine.id, components, nested=True)
    # The first activation starts the clock of a FROM_FIRST_ACTIVATION policy.
    await expiry.start(session, license, policy, ExpirationBasis.FROM_FIRST_ACTIVATION, clock.now())
    await events.record(session, bearer, EventName.MACHINE_CREATED, machine.id, product=machine.product_id)
    return machine, policy


def _apply(machine: Machine, data: MachineAttributes, sent: set[str]) -> None:
    for name in ("name", "platform", "hostname", "ip", "cores", "memory", "disk"):
        if name in sent:
            setattr(machine, name, getattr(data, name))
    if "metadata" in sent:
        machine.meta = data.metadata or {}


async def find(
    session: AsyncSession, bearer: Bearer, ref: str, *, lock: bool = False
) -> tuple[Machine, Policy]:
    """A machine the bearer may see, by id or by fingerprint (the newest such), or 404."""
    machine = await repository.by_ref(session, view(bearer, Machine), ref, lock=lock)
    if machine is None:
        raise not_found("machine")
    policy = await repository.policy_of(session, machine)
    assert policy is not None
    return machine, policy


async def process_limit_of(session: AsyncSession, machine: Machine, policy: Policy) -> int | None:
    """The ``maxProcesses`` a machine shows: its license's (``process_limit``)."""
    license = await session.get(License, machine.license_id)
    assert license is not None  # the foreign key holds it
    return process_limit(license, policy)


async def process_limits_of(
    session: AsyncSession, machines: Iterable[Machine], policies: Mapping[uuid.UUID, Policy]
) -> dict[uuid.UUID, int | None]:
    """``process_limit_of`` for many machines, by license id, in one query."""
    licenses = await repository.licenses_of(session, (machine.license_id for machine in machines))
    return {license.id: process_limit(license, policies[license.id]) for license in licenses}


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[Machine, Policy]:
    found = await find(session, bearer, ref)
    authorize(bearer, "machines", Action.READ)
    return found


async def listing(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[MachineFilters]
) -> tuple[paging.Page[Machine], dict[uuid.UUID, Policy]]:
    authorize(bearer, "machines", Action.READ)
    page = await repository.page(
        session, view(bearer, Machine), bearer.account.id, asked.filters, asked.paging
    )
    policies = await repository.policies_by_license(session, (machine.license_id for machine in page.items))
    return page, policies


async def _own(session: AsyncSession, bearer: Bearer, machine: Machine, policy: Policy) -> bool:
    license = await session.get(License, machine.license_id)
    assert license is not None
    return owns_machine(bearer, machine.owner_id, license.owner_id) and not protected(license, policy)


async def owns(session: AsyncSession, bearer: Bearer, machine_id: uuid.UUID, license: License) -> bool:
    """Whether the bearer owns the machine or its license where that decides what an end
    customer may change (``owns_machine``); a licensee who owns neither may only read."""
    if bearer.role is not Role.USER or license.owner_id == bearer.user_id:
        return True
    machine = await session.get(Machine, machine_id)
    return machine is not None and owns_machine(bearer, machine.owner_id, license.owner_id)


async def update(
    session: AsyncSession, bearer: Bearer, ref: str, data: MachineAttributes
) -> tuple[Machine, Policy]:
    machine, policy = await find(session, bearer, ref)
    authorize(bearer, "machines", Action.UPDATE, own=await _own(session, bearer, machine, policy))
    # The license row first, then the machine: the order activations lock in.
    license = await repository.lock_license(session, machine.license_id)
    assert license is not None
    await session.refresh(machine, with_for_update=True)
    sent = set(data.model_fields_set)
    if sent & {"cores", "memory", "disk"}:
        await _check_limits(session, license, policy, data, machine.owner_id, replacing=machine)
    _apply(machine, data, sent)
    await events.record(
        session, bearer, EventName.MACHINE_UPDATED, machine.id, changed=machine, product=machine.product_id
    )
    machine.updated_at = clock.now()
    await session.flush()
    return machine, policy


async def deactivate(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    machine, policy = await find(session, bearer, ref)
    token = bearer.license_token_id
    own = token is not None or await _own(session, bearer, machine, policy)
    authorize(bearer, "machines", Action.DELETE, own=own)
    if token is not None:
        await license_tokens.spend_deactivation(session, token)
    await events.record(session, bearer, EventName.MACHINE_DELETED, machine.id, product=machine.product_id)
    await session.delete(machine)
    await session.flush()


async def ping(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[Machine, Policy, bool]:
    """A heartbeat: the machine is alive until ``heartbeatDuration`` from now. The flag says
    it was dead and the policy's resurrection strategy brought it back."""
    machine, policy = await find(session, bearer, ref, lock=True)
    license = await session.get(License, machine.license_id)
    assert license is not None
    authorize(bearer, "machines", Action.UPDATE, own=owns_machine(bearer, machine.owner_id, license.owner_id))
    now = clock.now()
    dead = heartbeat.status(machine, policy, now) == HeartbeatStatus.DEAD
    if dead and not heartbeat.may_revive(machine, policy, now):
        raise Unprocessable("is dead", "MACHINE_HEARTBEAT_DEAD", pointer="/data/attributes/heartbeatStatus")
    machine.last_heartbeat = now
    machine.updated_at = now
    event = EventName.MACHINE_HEARTBEAT_RESURRECTED if dead else EventName.MACHINE_HEARTBEAT_PING
    await events.record(session, bearer, event, machine.id, product=machine.product_id)
    await session.flush()
    return machine, policy, dead
