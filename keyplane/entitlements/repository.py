"""Queries on entitlements and their attachments to policies and licenses."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, delete, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.kit.ids import as_uuid
from keyplane.models import Entitlement, License, LicenseEntitlement, PolicyEntitlement
from keyplane.models.entitlement import code_key


def of_policy(policy_id: uuid.UUID) -> ColumnElement[bool]:
    """The entitlements attached to the policy."""
    return Entitlement.id.in_(
        select(PolicyEntitlement.entitlement_id).where(PolicyEntitlement.policy_id == policy_id)
    )


def of_license(license_id: uuid.UUID, policy_id: uuid.UUID) -> ColumnElement[bool]:
    """A license's entitlements: its own and its policy's (Keygen's ``License#entitlements``)."""
    return Entitlement.id.in_(
        union(
            select(LicenseEntitlement.entitlement_id).where(LicenseEntitlement.license_id == license_id),
            select(PolicyEntitlement.entitlement_id).where(PolicyEntitlement.policy_id == policy_id),
        )
    )


def held_by(licenses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """The entitlements of any license that meets the conditions ``licenses``."""
    held = select(License.id, License.policy_id).where(*licenses).subquery()
    return Entitlement.id.in_(
        union(
            select(LicenseEntitlement.entitlement_id).where(
                LicenseEntitlement.license_id.in_(select(held.c.id))
            ),
            select(PolicyEntitlement.entitlement_id).where(
                PolicyEntitlement.policy_id.in_(select(held.c.policy_id))
            ),
        )
    )


async def of_license_all(session: AsyncSession, license: License) -> Sequence[Entitlement]:
    """Every entitlement of the license (its own and its policy's), oldest first."""
    statement = select(Entitlement).where(
        Entitlement.account_id == license.account_id, of_license(license.id, license.policy_id)
    )
    return (await session.scalars(statement.order_by(Entitlement.id))).all()


async def page(
    session: AsyncSession, conditions: list[ColumnElement[bool]], paged: paging.Paging
) -> paging.Page[Entitlement]:
    return await paging.fetch(session, paged, select(Entitlement), Entitlement.id, conditions)


async def by_ref(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    ref: str,
    *,
    by_code: bool = True,
    lock: bool = False,
) -> Entitlement | None:
    """The entitlement with id ``ref``, or (``by_code``) with the code ``ref`` exactly
    (Keygen's alias; a code is never a UUID, so the two cannot be confused)."""
    record_id = as_uuid(ref)
    if record_id is not None:
        wanted = Entitlement.id == record_id
    elif not by_code:
        return None
    else:
        # The unique index on (account, code_key) finds it; the code itself must match exactly.
        wanted = (Entitlement.code_key == code_key(ref)) & (Entitlement.code == ref)
    statement = select(Entitlement).where(*conditions, wanted)
    if lock:
        statement = statement.with_for_update()
    found: Entitlement | None = await session.scalar(statement)
    return found


async def code_taken(session: AsyncSession, entitlement: Entitlement) -> bool:
    """Whether another entitlement of the account has ``entitlement``'s code, in any case."""
    statement = select(Entitlement.id).where(
        Entitlement.account_id == entitlement.account_id,
        Entitlement.code_key == code_key(entitlement.code),
        Entitlement.id != entitlement.id,
    )
    # Not autoflushed: the entitlement may carry its new code already.
    with session.no_autoflush:
        return await session.scalar(statement.limit(1)) is not None


async def in_account(
    session: AsyncSession, account_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The codes of those of ``ids`` that are entitlements of the account, by id."""
    rows = await session.execute(
        select(Entitlement.id, Entitlement.code).where(
            Entitlement.account_id == account_id, Entitlement.id.in_(ids)
        )
    )
    return {row.id: row.code for row in rows}


async def attached_to_policy(
    session: AsyncSession, policy_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``ids`` attached to the policy."""
    found = await session.scalars(
        select(PolicyEntitlement.entitlement_id).where(
            PolicyEntitlement.policy_id == policy_id, PolicyEntitlement.entitlement_id.in_(ids)
        )
    )
    return set(found)


async def attached_to_license(
    session: AsyncSession, license_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``ids`` attached to the license itself (not through its policy)."""
    found = await session.scalars(
        select(LicenseEntitlement.entitlement_id).where(
            LicenseEntitlement.license_id == license_id, LicenseEntitlement.entitlement_id.in_(ids)
        )
    )
    return set(found)


async def detach_from_policy(session: AsyncSession, policy_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
    await session.execute(
        delete(PolicyEntitlement).where(
            PolicyEntitlement.policy_id == policy_id, PolicyEntitlement.entitlement_id.in_(ids)
        )
    )


async def detach_from_license(session: AsyncSession, license_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
    await session.execute(
        delete(LicenseEntitlement).where(
            LicenseEntitlement.license_id == license_id, LicenseEntitlement.entitlement_id.in_(ids)
        )
    )
