"""A license's users (Keygen 1.8's licensees): listing, attaching within ``maxUsers``, and
detaching. Attaching locks the license's row first, so ``maxUsers`` holds under concurrent
attaches (as ``maxMachines`` does under activations)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Role
from keyplane.db import touched
from keyplane.errors import Forbidden, InvalidResource, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.ids import uuid7
from keyplane.licensees import repository
from keyplane.licenses.service import find, refuse_users_past_limit
from keyplane.licensing import user_links
from keyplane.licensing.access import Action, authorize
from keyplane.licensing.records import not_found
from keyplane.licensing.status import protected
from keyplane.models import License, LicenseUser, Policy, User


async def _license(
    session: AsyncSession, bearer: Bearer, ref: str, *, lock: bool = False
) -> tuple[License, Policy]:
    license = await find(session, bearer, ref, lock=lock)
    policy = await session.get(Policy, license.policy_id)
    assert policy is not None
    return license, policy


def _owner_unprotected(bearer: Bearer, license: License, policy: Policy) -> bool:
    """Keygen's ``Licenses::UserPolicy``: an end customer changes the users of a license they
    own, unless it is protected (a licensee may not)."""
    return bearer.role is Role.USER and license.owner_id == bearer.user_id and not protected(license, policy)


async def listing(session: AsyncSession, bearer: Bearer, ref: str, paged: paging.Paging) -> paging.Page[User]:
    license, _ = await _license(session, bearer, ref)
    authorize(bearer, "license-users", Action.READ)
    return await repository.page(session, license, paged)


async def get(session: AsyncSession, bearer: Bearer, ref: str, user_ref: str) -> User:
    license, _ = await _license(session, bearer, ref)
    authorize(bearer, "license-users", Action.READ)
    user = await repository.one(session, license, user_ref)
    if user is None:
        raise not_found("user")
    return user


async def attach(
    session: AsyncSession, bearer: Bearer, ref: str, user_ids: list[uuid.UUID]
) -> list[LicenseUser]:
    """Attach users as licensees: 422 ``USER_NOT_FOUND`` for a user not in the account,
    ``USER_CONFLICT`` for the owner, ``USER_TAKEN`` for one attached already,
    ``USER_LIMIT_EXCEEDED`` past ``maxUsers`` (the owner counts) within the overage."""
    user_links.refuse_length(user_ids)
    license, policy = await _license(session, bearer, ref, lock=True)
    authorize(bearer, "license-users", Action.UPDATE, own=_owner_unprotected(bearer, license, policy))
    user_links.refuse_unknown(
        await repository.existing_users(session, license.account_id, user_ids), user_ids
    )
    if license.owner_id is not None and license.owner_id in user_ids:
        raise InvalidResource(
            "already exists (user is attached through owner)",
            "USER_CONFLICT",
            pointer=user_links.USER_POINTER,
        )
    already = await repository.attached(session, license.id)
    user_links.refuse_taken(already, user_ids)
    refuse_users_past_limit(license, policy, len(already) + (license.owner_id is not None) + len(user_ids))
    now = clock.now()
    rows = [
        LicenseUser(
            id=uuid7(),
            account_id=license.account_id,
            license_id=license.id,
            user_id=user_id,
            created_at=now,
            updated_at=now,
        )
        for user_id in user_ids
    ]
    await user_links.add(session, rows)
    await events.record(
        session,
        bearer,
        EventName.LICENSE_USERS_ATTACHED,
        license.id,
        metadata={"users": [str(user_id) for user_id in user_ids]},
        product=license.product_id,
    )
    return rows


async def detach(session: AsyncSession, bearer: Bearer, ref: str, user_ids: list[uuid.UUID]) -> None:
    """Detach licensees: 403 for the owner (attached through ownership), 422 for a user who
    is not attached; each names the offending item (``/data/<index>``)."""
    user_links.refuse_length(user_ids)
    license, policy = await _license(session, bearer, ref, lock=True)
    authorize(bearer, "license-users", Action.UPDATE, own=_owner_unprotected(bearer, license, policy))
    if license.owner_id is not None and license.owner_id in user_ids:
        raise Forbidden(
            f"cannot detach user '{license.owner_id}' (user is attached through owner)",
            "ACCESS_DENIED",
            pointer=f"/data/{user_ids.index(license.owner_id)}",
        )
    already = await repository.attached(session, license.id)
    found = user_links.first_missing(already, user_ids)
    if found is not None:
        missing, pointer = found
        raise Unprocessable(
            f"cannot detach user '{missing}' (user is not attached)",
            "USER_NOT_ATTACHED",
            pointer=pointer,
        )
    await repository.detach(session, license.id, user_ids)
    touched(session, license.id)
    await events.record(
        session,
        bearer,
        EventName.LICENSE_USERS_DETACHED,
        license.id,
        metadata={"users": [str(user_id) for user_id in user_ids]},
        product=license.product_id,
    )
