"""Entitlements attached to policies and licenses: listing, attaching, detaching.

Keygen's ``Policies::`` and ``Licenses::Relationships::EntitlementsController`` and their
``EntitlementPolicy``: staff read a policy's entitlements, a product token its own
product's; a license's are read by staff, its product, its owner and the license itself.
Admins, developers, sales agents and the product's token attach and detach. A license's
entitlements are its own and its policy's; one that comes through the policy can be neither
attached to the license again nor detached from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.entitlements import repository
from keyplane.entitlements.schemas import MAX_ATTACHED
from keyplane.errors import BadRequest, Forbidden, InvalidResource, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import paging
from keyplane.licenses import service as licenses
from keyplane.licensing.access import Action, authorize
from keyplane.licensing.records import find, not_found
from keyplane.models import Entitlement, License, LicenseEntitlement, Policy, PolicyEntitlement

_ENTITLEMENT = "/data/relationships/entitlement"


def _counted(ids: Sequence[uuid.UUID]) -> None:
    if not 1 <= len(ids) <= MAX_ATTACHED:
        raise BadRequest(
            f"length must be between 1 and {MAX_ATTACHED} (inclusive)", "DATA_INVALID", pointer="/data"
        )


def _distinct(ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


def _not_attached(ids: Sequence[uuid.UUID], attached: set[uuid.UUID]) -> None:
    """Keygen refuses to detach what is not attached rather than do nothing: 422 naming the
    first such entitlement and where it is in the request."""
    for index, entitlement_id in enumerate(ids):
        if entitlement_id not in attached:
            raise Unprocessable(
                f"cannot detach entitlement '{entitlement_id}' (entitlement is not attached)",
                "ENTITLEMENT_NOT_ATTACHED",
                pointer=f"/data/{index}",
            )


async def _attachable(
    session: AsyncSession,
    account_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    taken: set[uuid.UUID],
    through_policy: set[uuid.UUID],
) -> dict[uuid.UUID, str]:
    """The codes of ``ids`` by id, once each is known to exist in the account and to be free:
    Keygen's validations of each new attachment, in order (``must exist``, ``already exists``,
    and for a license, ``already exists`` through its policy)."""
    codes = await repository.in_account(session, account_id, ids)
    seen: set[uuid.UUID] = set()
    for entitlement_id in ids:
        if entitlement_id not in codes:
            raise InvalidResource("must exist", "ENTITLEMENT_NOT_FOUND", pointer=_ENTITLEMENT)
        if entitlement_id in taken or entitlement_id in seen:
            raise InvalidResource("already exists", "ENTITLEMENT_TAKEN", pointer=_ENTITLEMENT)
        if entitlement_id in through_policy:
            raise InvalidResource(
                "already exists (entitlement is attached through policy)",
                "ENTITLEMENT_CONFLICT",
                pointer=_ENTITLEMENT,
            )
        seen.add(entitlement_id)
    return codes


async def _insert(session: AsyncSession, rows: Sequence[PolicyEntitlement | LicenseEntitlement]) -> None:
    session.add_all(rows)
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent request attached one of them first (the unique index decides).
        raise InvalidResource("already exists", "ENTITLEMENT_TAKEN", pointer=_ENTITLEMENT) from None


# -- policies --------------------------------------------------------------------------------


async def _policy(session: AsyncSession, bearer: Bearer, ref: str, action: Action) -> Policy:
    policy = await find(session, bearer, Policy, ref, "policy")
    authorize(bearer, "policy-entitlements", action)
    return policy


async def of_policy(
    session: AsyncSession, bearer: Bearer, ref: str, asked: paging.Listed[None]
) -> paging.Page[Entitlement]:
    policy = await _policy(session, bearer, ref, Action.READ)
    conditions = [Entitlement.account_id == policy.account_id, repository.of_policy(policy.id)]
    return await repository.page(session, conditions, asked.paging)


async def one_of_policy(session: AsyncSession, bearer: Bearer, ref: str, entitlement: str) -> Entitlement:
    policy = await _policy(session, bearer, ref, Action.READ)
    conditions = [Entitlement.account_id == policy.account_id, repository.of_policy(policy.id)]
    # By id only, as Keygen's ``entitlements.find(params[:id])``.
    found = await repository.by_ref(session, conditions, entitlement, by_code=False)
    if found is None:
        raise not_found("entitlement")
    return found


async def attach_to_policy(
    session: AsyncSession, bearer: Bearer, ref: str, ids: Sequence[uuid.UUID]
) -> list[PolicyEntitlement]:
    _counted(ids)
    policy = await _policy(session, bearer, ref, Action.UPDATE)
    taken = await repository.attached_to_policy(session, policy.id, ids)
    codes = await _attachable(session, policy.account_id, ids, taken, set())
    rows = [
        PolicyEntitlement(account_id=policy.account_id, policy_id=policy.id, entitlement_id=entitlement_id)
        for entitlement_id in ids
    ]
    await _insert(session, rows)
    await events.record(
        session,
        bearer,
        EventName.POLICY_ENTITLEMENTS_ATTACHED,
        policy.id,
        metadata={"codes": [codes[entitlement_id] for entitlement_id in ids]},
        product=policy.product_id,
    )
    return rows


async def detach_from_policy(
    session: AsyncSession, bearer: Bearer, ref: str, ids: Sequence[uuid.UUID]
) -> None:
    _counted(ids)
    policy = await _policy(session, bearer, ref, Action.UPDATE)
    distinct = _distinct(ids)
    _not_attached(ids, await repository.attached_to_policy(session, policy.id, distinct))
    codes = await repository.in_account(session, policy.account_id, distinct)
    await repository.detach_from_policy(session, policy.id, distinct)
    await events.record(
        session,
        bearer,
        EventName.POLICY_ENTITLEMENTS_DETACHED,
        policy.id,
        metadata={"codes": [codes[entitlement_id] for entitlement_id in distinct]},
        product=policy.product_id,
    )


# -- licenses --------------------------------------------------------------------------------


async def _license(session: AsyncSession, bearer: Bearer, ref: str, action: Action) -> License:
    license = await licenses.find(session, bearer, ref)
    authorize(bearer, "license-entitlements", action)
    return license


async def of_license(
    session: AsyncSession, bearer: Bearer, ref: str, asked: paging.Listed[None]
) -> paging.Page[Entitlement]:
    """The license's own entitlements and its policy's."""
    license = await _license(session, bearer, ref, Action.READ)
    conditions = [
        Entitlement.account_id == license.account_id,
        repository.of_license(license.id, license.policy_id),
    ]
    return await repository.page(session, conditions, asked.paging)


async def one_of_license(session: AsyncSession, bearer: Bearer, ref: str, entitlement: str) -> Entitlement:
    license = await _license(session, bearer, ref, Action.READ)
    conditions = [
        Entitlement.account_id == license.account_id,
        repository.of_license(license.id, license.policy_id),
    ]
    # By id only, as Keygen's ``entitlements.find(params[:id])``.
    found = await repository.by_ref(session, conditions, entitlement, by_code=False)
    if found is None:
        raise not_found("entitlement")
    return found


async def attach_to_license(
    session: AsyncSession, bearer: Bearer, ref: str, ids: Sequence[uuid.UUID]
) -> list[LicenseEntitlement]:
    _counted(ids)
    license = await _license(session, bearer, ref, Action.UPDATE)
    taken = await repository.attached_to_license(session, license.id, ids)
    through_policy = await repository.attached_to_policy(session, license.policy_id, ids)
    codes = await _attachable(session, license.account_id, ids, taken, through_policy)
    rows = [
        LicenseEntitlement(
            account_id=license.account_id, license_id=license.id, entitlement_id=entitlement_id
        )
        for entitlement_id in ids
    ]
    await _insert(session, rows)
    await events.record(
        session,
        bearer,
        EventName.LICENSE_ENTITLEMENTS_ATTACHED,
        license.id,
        metadata={"codes": [codes[entitlement_id] for entitlement_id in ids]},
        product=license.product_id,
    )
    return rows


async def detach_from_license(
    session: AsyncSession, bearer: Bearer, ref: str, ids: Sequence[uuid.UUID]
) -> None:
    _counted(ids)
    license = await _license(session, bearer, ref, Action.UPDATE)
    distinct = _distinct(ids)
    # Keygen's order: one that comes through the policy is a 403 (detach it from the policy),
    # before one that is not attached at all is a 422.
    through_policy = await repository.attached_to_policy(session, license.policy_id, distinct)
    for index, entitlement_id in enumerate(ids):
        if entitlement_id in through_policy:
            raise Forbidden(
                f"cannot detach entitlement '{entitlement_id}' (entitlement is attached through policy)",
                "ENTITLEMENT_ATTACHED_TO_POLICY",
                pointer=f"/data/{index}",
            )
    _not_attached(ids, await repository.attached_to_license(session, license.id, distinct))
    codes = await repository.in_account(session, license.account_id, distinct)
    await repository.detach_from_license(session, license.id, distinct)
    await events.record(
        session,
        bearer,
        EventName.LICENSE_ENTITLEMENTS_DETACHED,
        license.id,
        metadata={"codes": [codes[entitlement_id] for entitlement_id in distinct]},
        product=license.product_id,
    )
