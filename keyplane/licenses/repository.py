"""Queries on licenses."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, exists, inspect, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kit import paging
from keyplane.kit.ids import as_uuid
from keyplane.licenses.schemas import Expires, LicenseFilters
from keyplane.licensing import metadata
from keyplane.licensing.keystrings import digest
from keyplane.licensing.status import condition, has_expired, is_expiring
from keyplane.models import (
    Entitlement,
    License,
    LicenseEntitlement,
    LicenseUser,
    Machine,
    Policy,
    PolicyEntitlement,
    User,
)
from keyplane.models.license import WITH_LICENSEES


async def by_id_or_key(
    session: AsyncSession, conditions: list[ColumnElement[bool]], ref: str, *, lock: bool = False
) -> License | None:
    """A license by id, else by key (a key may look like a UUID without being an id)."""
    candidates: list[ColumnElement[bool]] = []
    with contextlib.suppress(ValueError):
        candidates.append(License.id == uuid.UUID(ref))
    candidates.append(License.key_digest == digest(ref))
    for candidate in candidates:
        statement = select(License).options(WITH_LICENSEES).where(*conditions, candidate)
        if lock:
            statement = statement.with_for_update()
        found = await session.scalar(statement)
        if found is not None:
            return found
    return None


async def rendered(session: AsyncSession, license_id: uuid.UUID) -> License | None:
    """A license by id with what its document shows (its licensees, counted)."""
    return await session.scalar(select(License).options(WITH_LICENSEES).where(License.id == license_id))


async def count_licensees(session: AsyncSession, license: License) -> None:
    """Read ``license``'s licensees count if it was loaded without it."""
    if "licensees_count" in inspect(license).unloaded:
        await session.refresh(license, ["licensees_count"])


async def key_taken(session: AsyncSession, account_id: uuid.UUID, key: str) -> bool:
    statement = select(License.id).where(License.account_id == account_id, License.key_digest == digest(key))
    return await session.scalar(statement.limit(1)) is not None


async def id_taken(session: AsyncSession, account_id: uuid.UUID, key: str) -> bool:
    try:
        license_id = uuid.UUID(key)
    except ValueError:
        return False
    statement = select(License.id).where(License.account_id == account_id, License.id == license_id)
    return await session.scalar(statement) is not None


async def user_by_ref(session: AsyncSession, account_id: uuid.UUID, ref: str) -> User | None:
    """A user of the account by id or email."""
    try:
        condition = User.id == uuid.UUID(ref)
    except ValueError:
        condition = User.email == ref.strip().lower()
    return await session.scalar(select(User).where(User.account_id == account_id, condition))


_LICENSES = cast(Table, License.__table__)
_VALIDATED = (
    update(_LICENSES)
    .where(
        _LICENSES.c.id == bindparam("validated_id"),
        or_(_LICENSES.c.last_validated.is_(None), _LICENSES.c.last_validated < bindparam("validated_at")),
    )
    .values(last_validated=bindparam("validated_at"), updated_at=_LICENSES.c.updated_at)
)


async def touch_validated(session: AsyncSession, validations: Iterable[tuple[uuid.UUID, datetime]]) -> None:
    """Move ``last_validated`` forward, never back, in one statement for the batch. Recording a
    validation is not an edit: ``updated`` stays, and no cache needs to forget the license."""
    rows = [{"validated_id": license_id, "validated_at": when} for license_id, when in validations]
    if rows:
        await session.execute(_VALIDATED, rows)


def _owned_by(ref: str, account_id: uuid.UUID) -> ColumnElement[bool]:
    """Licenses of the user named by id or email (an unknown user owns none)."""
    user_id = as_uuid(ref)
    if user_id is not None:
        return License.owner_id == user_id
    owner = select(User.id).where(User.account_id == account_id, User.email == ref.strip().lower())
    # An equality with the one user (emails are unique per account), not ``IN``: the planners
    # then read the owner's licenses by ``ix_licenses_owner_id_id``, in id order, where with
    # ``IN`` they walk every license of the account (SQLite) or the whole table (PostgreSQL).
    return License.owner_id == owner.scalar_subquery()


def _window(expires: Expires, now: datetime) -> list[ColumnElement[bool]]:
    """Keygen's ``expires[...]``: not yet expired, and within every bound given."""
    conditions: list[ColumnElement[bool]] = [License.expiry.is_not(None)]
    if expires.on is not None:
        start = datetime(expires.on.year, expires.on.month, expires.on.day, tzinfo=now.tzinfo)
        conditions += [License.expiry >= start, License.expiry < start + timedelta(days=1)]
    else:
        conditions.append(License.expiry >= now)
    if expires.within is not None:
        conditions.append(License.expiry <= expires.within.after(now))
    if expires.before is not None:
        conditions.append(License.expiry <= expires.before)
    if expires.after is not None:
        conditions.append(License.expiry >= expires.after)
    return conditions


async def page(
    session: AsyncSession,
    visible: list[ColumnElement[bool]],
    account_id: uuid.UUID,
    filters: LicenseFilters,
    paged: paging.Paging,
    now: datetime,
) -> paging.Page[License]:
    """A page of the licenses in view that pass ``filters``, all of them applied in SQL."""
    conditions = list(visible)
    if filters.product is not None:
        conditions.append(License.product_id == filters.product)
    if filters.group is not None:
        conditions.append(License.group_id == filters.group)
    if filters.policy is not None:
        conditions.append(License.policy_id == filters.policy)
    if filters.owner is not None:
        conditions.append(_owned_by(filters.owner, account_id))
    if filters.machine is not None:
        machine_id = as_uuid(filters.machine)
        named = Machine.fingerprint == filters.machine
        if machine_id is not None:
            named = or_(Machine.id == machine_id, named)
        conditions.append(exists().where(Machine.license_id == License.id, named))
    if filters.status is not None:
        conditions.append(condition(filters.status, now))
    dialect = session.get_bind().dialect.name
    for key, value in filters.metadata:
        conditions.append(metadata.matches(License.meta, key, value, dialect))
    if filters.expires is not None:
        conditions += _window(filters.expires, now)
    if filters.suspended is not None:
        conditions.append(License.suspended.is_(filters.suspended))
    if filters.expired is not None:
        conditions.append(has_expired(now) if filters.expired else ~has_expired(now))
    if filters.expiring is not None:
        conditions.append(is_expiring(now) if filters.expiring else ~is_expiring(now))
    for assigned in (filters.assigned, None if filters.unassigned is None else not filters.unassigned):
        if assigned is not None:
            conditions.append(License.owner_id.is_not(None) if assigned else License.owner_id.is_(None))
    if filters.activated is not None:
        activated = exists().where(Machine.license_id == License.id)
        conditions.append(activated if filters.activated else ~activated)
    return await paging.fetch(session, paged, select(License).options(WITH_LICENSEES), License.id, conditions)


async def policies(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Policy]:
    """The policies with these ids."""
    rows = await session.scalars(select(Policy).where(Policy.id.in_(set(ids))))
    return {policy.id: policy for policy in rows}


async def policy(
    session: AsyncSession, conditions: list[ColumnElement[bool]], policy_id: uuid.UUID
) -> Policy | None:
    """A policy by id, among those ``conditions`` allow."""
    return await session.scalar(select(Policy).where(*conditions, Policy.id == policy_id))


async def entitlement_codes(
    session: AsyncSession, license: License, codes: Collection[str]
) -> frozenset[str]:
    """Those of ``codes`` that the license is entitled to, through itself or its policy: one
    query, made only when a validation's scope asks for entitlements."""
    held = union(
        select(LicenseEntitlement.entitlement_id).where(LicenseEntitlement.license_id == license.id),
        select(PolicyEntitlement.entitlement_id).where(PolicyEntitlement.policy_id == license.policy_id),
    )
    found = await session.scalars(
        select(Entitlement.code).where(
            Entitlement.account_id == license.account_id,
            Entitlement.code.in_(set(codes)),
            Entitlement.id.in_(held),
        )
    )
    return frozenset(found)


async def start_expiry(session: AsyncSession, license_id: uuid.UUID, expiry: datetime, now: datetime) -> None:
    """Set the expiry of a license that has none (a license that has one keeps it)."""
    await session.execute(
        update(License)
        .where(License.id == license_id, License.expiry.is_(None))
        .values(expiry=expiry, updated_at=now)
    )


async def is_licensee(session: AsyncSession, license_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether the user is attached to the license as one of its licensees."""
    found = await session.scalar(
        select(LicenseUser.id).where(LicenseUser.license_id == license_id, LicenseUser.user_id == user_id)
    )
    return found is not None
