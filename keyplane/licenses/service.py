"""Licenses: CRUD, keys from the pool or generated, the policy and owner relationships.

Without a key, a pooled policy's license takes the next key from the pool (atomically; an
empty pool creates nothing); any other policy's gets a random key in Keygen's format.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from keyplane.accounts.signing import KeyRing
from keyplane.auth.principal import Bearer
from keyplane.errors import BadRequest, Forbidden, InvalidResource
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.keys import repository as pool
from keyplane.keys import service as keys
from keyplane.kit import clock, paging
from keyplane.kit.ids import as_uuid, uuid7
from keyplane.kit.instants import after_duration
from keyplane.kit.jsonapi import attribute_pointer
from keyplane.licenses import repository
from keyplane.licenses.schemas import (
    PRIVILEGED,
    LicenseAttributes,
    LicenseCreateAttributes,
    LicenseCreateRelationships,
    LicenseFilters,
)
from keyplane.licenses.signed_keys import signed_key
from keyplane.licenses.validation import tolerated, user_limit
from keyplane.licensing import keystrings, membership
from keyplane.licensing.access import Action, authorize, view
from keyplane.licensing.records import dependents, not_found, target
from keyplane.licensing.status import protected
from keyplane.models import License, Policy, Product, User
from keyplane.models.policy import ExpirationBasis, Scheme, TransferStrategy

_KEY = "/data/attributes/key"
_POLICY = "/data/relationships/policy"
_OWNER = "/data/relationships/owner"
_EXPIRY = "/data/attributes/expiry"
_COPIED = tuple(name for name in LicenseAttributes.model_fields if name != "metadata")


def _apply(license: License, policy: Policy, data: LicenseAttributes, sent: set[str]) -> None:
    for name in _COPIED:
        if name in sent:
            setattr(license, name, getattr(data, name))
    if "metadata" in sent:
        license.meta = data.metadata or {}
    if "max_machines" in sent and not policy.floating and license.max_machines not in (None, 1):
        raise InvalidResource(
            "must be equal to 1 for non-floating policy",
            "MAX_MACHINES_INVALID",
            pointer="/data/attributes/maxMachines",
        )


def _privileged_only(bearer: Bearer, sent: set[str]) -> None:
    if bearer.is_staff or bearer.is_product:
        return
    refused = sorted(sent & PRIVILEGED)
    if refused:
        raise BadRequest(
            "is not a permitted attribute for your role",
            "ATTRIBUTE_NOT_PERMITTED",
            pointer=attribute_pointer(refused[0]),
        )


async def _policy_for_create(session: AsyncSession, bearer: Bearer, ref: str) -> Policy:
    """The new license's policy: 403 for a product token naming another product's policy;
    422 if it does not exist for anyone else (an end customer, already known to be naming
    themselves as the owner, may name any policy of the account: Keygen's
    ``license_policy.rb`` allows them and the record then fails to save)."""
    if bearer.is_product:
        return await target(
            session,
            bearer,
            Policy,
            ref,
            view(bearer, Policy),
            code="POLICY_NOT_FOUND",
            pointer=_POLICY,
            denied="You do not have permission to create licenses for this policy",
        )
    policy_id = as_uuid(ref)
    found = (
        None
        if policy_id is None
        else await repository.policy(session, [Policy.account_id == bearer.account.id], policy_id)
    )
    if found is None:
        raise InvalidResource("must exist", "POLICY_NOT_FOUND", pointer=_POLICY)
    return found


async def _owner(session: AsyncSession, bearer: Bearer, ref: str | None) -> User | None:
    if ref is None:
        return None
    owner = await repository.user_by_ref(session, bearer.account.id, ref)
    if owner is None:
        raise InvalidResource("must exist", "OWNER_NOT_FOUND", pointer=_OWNER)
    return owner


MIN_KEY_LENGTH = 6
"""The shortest key a policy without a scheme takes (a signing policy's dataset may be one
character: Keygen's ``license.rb``)."""


async def _check_key(session: AsyncSession, bearer: Bearer, key: str) -> None:
    if len(key) < MIN_KEY_LENGTH:
        raise InvalidResource(
            f"is too short (minimum is {MIN_KEY_LENGTH} characters)", "KEY_TOO_SHORT", pointer=_KEY
        )
    if key in keystrings.RESERVED:
        raise InvalidResource("is reserved", "KEY_NOT_ALLOWED", pointer=_KEY)
    await pool.hold_value(session, bearer.account.id, key)
    if await repository.key_taken(session, bearer.account.id, key):
        raise InvalidResource("has already been taken", "KEY_TAKEN", pointer=_KEY)
    if await repository.id_taken(session, bearer.account.id, key):
        raise InvalidResource("conflicts with an existing license", "KEY_CONFLICT", pointer=_KEY)
    # A pool key is waiting for a license of its policy: a license that took its value
    # (whoever made it, even an end customer who cannot see the pool) would leave it
    # impossible to hand out.
    if await pool.key_taken(session, bearer.account.id, key, None):
        raise InvalidResource("conflicts with an existing key", "KEY_CONFLICT", pointer=_KEY)


async def _new_key(session: AsyncSession, bearer: Bearer, policy: Policy) -> str:
    if policy.use_pool:
        # Last of all checks: a popped key must not go back because of a later refusal
        # (a concurrent creation may have been told the pool is empty meanwhile).
        popped = await keys.take(session, bearer, policy)
        if popped is None:
            raise InvalidResource("pool is empty", "POLICY_POOL_EMPTY", pointer=_POLICY)
        return popped.key
    while True:
        key = keystrings.generate()
        if not await repository.key_taken(session, bearer.account.id, key):
            return key


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent creation with the same key won the unique index.
        raise InvalidResource("has already been taken", "KEY_TAKEN", pointer=_KEY) from None


async def create(
    session: AsyncSession,
    bearer: Bearer,
    data: LicenseCreateAttributes,
    relationships: LicenseCreateRelationships,
    keys: KeyRing,
) -> tuple[License, Policy]:
    sent = set(data.model_fields_set)
    _privileged_only(bearer, sent)
    customer = not bearer.is_staff and not bearer.is_product
    # An end customer may create their own licenses (checked below), so ``own`` here.
    authorize(bearer, "licenses", Action.CREATE, own=True)
    owner_ref = relationships.owner_ref
    if customer:
        # An end customer creates licenses they own, and names themselves as the owner
        # (Keygen's ``license_policy.rb``: ``record.owner == bearer``), before anything about
        # the policy is looked at: no owner, or another one, is 403 whatever the policy.
        named = (
            None
            if owner_ref is None
            else await repository.user_by_ref(session, bearer.account.id, owner_ref.id)
        )
        if named is None or named.id != bearer.user_id:
            raise Forbidden("You may only create licenses for yourself", "ACCESS_DENIED")
    policy = await _policy_for_create(session, bearer, relationships.policy.data.id)
    owner = await _owner(session, bearer, owner_ref.id if owner_ref else None)
    owner_id = owner.id if owner is not None else None
    if customer and policy.protected:
        raise Forbidden("This policy is protected: only staff may create its licenses", "POLICY_PROTECTED")
    membership.refuse_unpermitted(relationships.group, bearer.is_staff or bearer.is_product)
    group_id = await membership.join(
        session, bearer.account.id, relationships.group, owner.group_id if owner else None, "licenses"
    )
    license = License(
        id=uuid7(),
        created_at=clock.now(),
        account_id=bearer.account.id,
        product_id=policy.product_id,
        policy_id=policy.id,
        owner_id=owner_id,
        group_id=group_id,
        suspended=False,
        uses=0,
        meta={},
    )
    _apply(license, policy, data, sent)
    if (
        license.expiry is None
        and policy.duration is not None
        and policy.expiration_basis == ExpirationBasis.FROM_CREATION
    ):
        license.expiry = after_duration(clock.now(), policy.duration, code="EXPIRY_INVALID", pointer=_EXPIRY)
    if policy.scheme == Scheme.ED25519_SIGN:
        # A sent key is the dataset to sign (with {{placeholders}} filled), not the key.
        if data.key in keystrings.RESERVED:
            raise InvalidResource("is reserved", "KEY_NOT_ALLOWED", pointer=_KEY)
        signing_key = await keys.key(session, bearer.account.id)
        key = signed_key(signing_key, license, policy, owner, data.key)
    elif data.key is not None:
        await _check_key(session, bearer, data.key)
        key = data.key
    else:
        key = await _new_key(session, bearer, policy)
    license.key = key
    license.key_digest = keystrings.digest(key)
    session.add(license)
    await _flush(session)
    for total in ("machines_count", "machines_cores", "machines_memory", "machines_disk", "licensees_count"):
        # A new license has no machines nor licensees (its sums are not read back after the
        # INSERT).
        set_committed_value(license, total, 0)
    await events.record(session, bearer, EventName.LICENSE_CREATED, license.id, product=license.product_id)
    return license, policy


async def of_record(session: AsyncSession, license_id: uuid.UUID) -> License:
    """The license of a record the caller may already see (a machine's), ready to render."""
    license = await repository.rendered(session, license_id)
    assert license is not None  # the record's foreign key holds it
    return license


async def ready_to_render(session: AsyncSession, license: License) -> License:
    """``license`` with what its document shows: its licensees are counted if it was read
    without them (by a read that does not render it)."""
    await repository.count_licensees(session, license)
    return license


async def find(session: AsyncSession, bearer: Bearer, ref: str, *, lock: bool = False) -> License:
    """A license the bearer may see, by id or key, or 404."""
    license = await repository.by_id_or_key(session, view(bearer, License), ref, lock=lock)
    if license is None:
        raise not_found("license")
    return license


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> tuple[License, Policy]:
    license = await find(session, bearer, ref)
    authorize(bearer, "licenses", Action.READ)
    return license, await _policy_of(session, license)


async def _policy_of(session: AsyncSession, license: License) -> Policy:
    policy = await session.get(Policy, license.policy_id)
    assert policy is not None  # the foreign key holds it
    return policy


async def policies_of(session: AsyncSession, licenses: Sequence[License]) -> dict[uuid.UUID, Policy]:
    ids = {license.policy_id for license in licenses}
    if not ids:
        return {}
    return await repository.policies(session, ids)


async def listing(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[LicenseFilters]
) -> paging.Page[License]:
    authorize(bearer, "licenses", Action.READ)
    return await repository.page(
        session, view(bearer, License), bearer.account.id, asked.filters, asked.paging, clock.now()
    )


async def update(
    session: AsyncSession, bearer: Bearer, ref: str, data: LicenseAttributes
) -> tuple[License, Policy]:
    license = await find(session, bearer, ref, lock=True)
    authorize(bearer, "licenses", Action.UPDATE)
    policy = await _policy_of(session, license)
    _apply(license, policy, data, set(data.model_fields_set))
    await events.record(
        session, bearer, EventName.LICENSE_UPDATED, license.id, changed=license, product=license.product_id
    )
    license.updated_at = clock.now()
    await session.flush()
    return license, policy


def owned_unprotected(bearer: Bearer, license: License, policy: Policy) -> bool:
    """An end customer's own license that is not protected: they may delete or renew it."""
    return (
        bearer.user_id is not None and license.owner_id == bearer.user_id and not protected(license, policy)
    )


async def delete(session: AsyncSession, bearer: Bearer, ref: str, *, revoked: bool = False) -> None:
    """Delete (``DELETE /licenses/{id}``, and Keygen's ``revoke`` action: ``revoked``) with
    its machines."""
    license = await find(session, bearer, ref)
    policy = await _policy_of(session, license)
    authorize(bearer, "licenses", Action.DELETE, own=owned_unprotected(bearer, license, policy))
    event = EventName.LICENSE_REVOKED if revoked else EventName.LICENSE_DELETED
    gone = await dependents(session, "license_id", license.id)
    await events.record(
        session,
        bearer,
        event,
        license.id,
        metadata={"deleted": gone} if gone else None,
        product=license.product_id,
    )
    await session.delete(license)
    await session.flush()


async def change_policy(
    session: AsyncSession, bearer: Bearer, ref: str, policy_ref: str
) -> tuple[License, Policy]:
    """Move a license to another policy of the same product; pooled and unpooled policies
    do not mix (a pooled license's key came from the pool)."""
    license = await find(session, bearer, ref, lock=True)
    authorize(bearer, "licenses", Action.UPDATE)
    current = await _policy_of(session, license)
    target_id = as_uuid(policy_ref)
    target = None
    if target_id is not None:
        target = await repository.policy(session, view(bearer, Policy), target_id)
    if target is None:
        raise InvalidResource("must exist", "POLICY_NOT_FOUND", pointer="/data")
    if target.product_id != current.product_id:
        raise InvalidResource(
            "cannot change to a policy of another product", "POLICY_NOT_COMPATIBLE", pointer="/data"
        )
    if target.use_pool != current.use_pool:
        raise InvalidResource(
            "cannot change from a pooled policy to an unpooled one, or back",
            "POLICY_NOT_COMPATIBLE",
            pointer="/data",
        )
    if target.scheme != current.scheme:
        raise InvalidResource(
            "cannot change to a policy with another scheme", "POLICY_NOT_COMPATIBLE", pointer="/data"
        )
    if not target.floating and license.max_machines not in (None, 1):
        raise InvalidResource(
            "must be equal to 1 for non-floating policy",
            "MAX_MACHINES_INVALID",
            pointer="/data/attributes/maxMachines",
        )
    license.policy_id = target.id
    if target.transfer_strategy == TransferStrategy.RESET_EXPIRY:
        # Keygen's ``License#transfer!``: the new policy's duration from now, or no expiry.
        license.expiry = (
            None
            if target.duration is None
            else after_duration(clock.now(), target.duration, code="EXPIRY_INVALID", pointer=_EXPIRY)
        )
    await events.record(
        session,
        bearer,
        EventName.LICENSE_POLICY_UPDATED,
        license.id,
        changed=license,
        product=license.product_id,
    )
    license.updated_at = clock.now()
    await session.flush()
    return license, target


def refuse_users_past_limit(license: License, policy: Policy, total: int) -> None:
    """422 ``USER_LIMIT_EXCEEDED`` when ``total`` users are more than ``maxUsers`` allows,
    overage included (Keygen's ``license_user.rb`` and ``license.rb``)."""
    maximum = user_limit(license, policy)
    if maximum is not None and total > maximum and not tolerated(policy, total, maximum):
        raise InvalidResource(
            f"user count has exceeded maximum allowed for license ({maximum})",
            "USER_LIMIT_EXCEEDED",
            pointer="/data/relationships/users",
        )


async def change_owner(
    session: AsyncSession, bearer: Bearer, ref: str, owner_ref: str | None
) -> tuple[License, Policy]:
    license = await find(session, bearer, ref, lock=True)
    authorize(bearer, "licenses", Action.UPDATE)
    owner = await repository.user_by_ref(session, bearer.account.id, owner_ref) if owner_ref else None
    if owner_ref is not None and owner is None:
        raise InvalidResource("must exist", "OWNER_NOT_FOUND", pointer="/data")
    if owner is not None and owner.id != license.owner_id:
        # Keygen's ``license.rb``: the owner is not one of the licensees too, and a new owner
        # counts toward ``maxUsers``.
        if await repository.is_licensee(session, license.id, owner.id):
            raise InvalidResource(
                "already exists (user is attached through users)", "OWNER_INVALID", pointer="/data"
            )
        refuse_users_past_limit(license, await _policy_of(session, license), license.licensees_count + 1)
    license.owner_id = owner.id if owner else None
    await events.record(
        session,
        bearer,
        EventName.LICENSE_OWNER_UPDATED,
        license.id,
        changed=license,
        product=license.product_id,
    )
    license.updated_at = clock.now()
    await session.flush()
    return license, await _policy_of(session, license)


async def related(
    session: AsyncSession, bearer: Bearer, ref: str
) -> tuple[License, Policy, Product, User | None]:
    license, policy = await get(session, bearer, ref)
    product = await session.get(Product, license.product_id)
    owner = await session.get(User, license.owner_id) if license.owner_id else None
    assert product is not None
    return license, policy, product, owner
