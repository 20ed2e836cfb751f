"""Policies: CRUD with Keygen's defaults and rules. ``usePool`` and ``scheme`` are fixed at
creation; deleting a policy deletes its pool keys and licenses with it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.errors import InvalidResource
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.jsonapi import attribute_pointer
from keyplane.licensing.access import Action, authorize, view
from keyplane.licensing.records import dependents, find, target
from keyplane.models import Policy, Product
from keyplane.models.policy import HeartbeatBasis, Scheme
from keyplane.policies import repository
from keyplane.policies.schemas import PolicyAttributes, PolicyCreateAttributes, PolicyFilters

SUPPORTED_SCHEMES = frozenset({Scheme.ED25519_SIGN})
"""Key schemes this server can issue keys for."""
_COPIED = tuple(name for name in PolicyAttributes.model_fields if name not in ("name", "metadata"))
"""Attributes stored as sent (``name`` and ``metadata`` have rules of their own)."""


def _apply(policy: Policy, data: PolicyAttributes, sent: set[str]) -> None:
    if "name" in sent:
        if data.name is None:
            raise InvalidResource("can't be blank", "NAME_MISSING", pointer="/data/attributes/name")
        policy.name = data.name
    for name in _COPIED:
        if name in sent:
            setattr(policy, name, getattr(data, name))
    if "metadata" in sent:
        policy.meta = data.metadata or {}
    _check(policy, sent)


def _check(policy: Policy, sent: set[str]) -> None:
    """Rules that span attributes, on the policy as it will be stored."""
    if not policy.floating:
        # A node-locked policy allows exactly one machine; turning a floating policy with more
        # into a node-locked one needs maxMachines: 1 in the same request (Keygen's rule).
        if policy.max_machines not in (None, 1):
            raise InvalidResource(
                "must be equal to 1 for non-floating policy",
                "MAX_MACHINES_INVALID",
                pointer=attribute_pointer("max_machines"),
            )
        policy.max_machines = 1
    if policy.require_check_in and (
        policy.check_in_interval is None or policy.check_in_interval_count is None
    ):
        missing = "check_in_interval" if policy.check_in_interval is None else "check_in_interval_count"
        raise InvalidResource(
            "is required when requireCheckIn is true",
            f"{missing.upper()}_MISSING",
            pointer=attribute_pointer(missing),
        )


async def create(
    session: AsyncSession, bearer: Bearer, data: PolicyCreateAttributes, product_ref: str
) -> Policy:
    authorize(bearer, "policies", Action.CREATE)
    product = await target(
        session,
        bearer,
        Product,
        product_ref,
        view(bearer, Product),
        code="PRODUCT_NOT_FOUND",
        pointer="/data/relationships/product",
        denied="You do not have permission to create policies for this product",
    )
    if data.use_pool and data.scheme is not None:
        raise InvalidResource(
            "cannot be used with a pooled policy", "SCHEME_NOT_SUPPORTED", pointer="/data/attributes/scheme"
        )
    if data.use_pool and data.encrypted:
        raise InvalidResource(
            "cannot be used with a pooled policy",
            "ENCRYPTED_NOT_SUPPORTED",
            pointer="/data/attributes/encrypted",
        )
    if data.scheme is not None and data.scheme not in SUPPORTED_SCHEMES:
        raise InvalidResource(
            "is not supported by this server", "SCHEME_NOT_SUPPORTED", pointer="/data/attributes/scheme"
        )
    if data.encrypted:
        raise InvalidResource(
            "legacy encryption is not supported by this server",
            "ENCRYPTED_NOT_SUPPORTED",
            pointer="/data/attributes/encrypted",
        )
    policy = Policy(
        account_id=bearer.account.id,
        product_id=product.id,
        name=data.name,
        use_pool=data.use_pool,
        scheme=data.scheme,
        encrypted=data.encrypted,
        meta={},
    )
    # Every attribute takes the value sent or Keygen's default (the schema's).
    _apply(policy, data, set(PolicyAttributes.model_fields))
    if "heartbeat_basis" not in data.model_fields_set and policy.require_heartbeat:
        # A policy that requires heartbeats counts them from activation unless told
        # otherwise, so a just-activated machine is alive (Keygen's
        # ``set_default_heartbeat_basis``).
        policy.heartbeat_basis = HeartbeatBasis.FROM_CREATION
    session.add(policy)
    await session.flush()
    await events.record(session, bearer, EventName.POLICY_CREATED, policy.id, product=policy.product_id)
    return policy


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> Policy:
    policy = await find(session, bearer, Policy, ref, "policy")
    authorize(bearer, "policies", Action.READ)
    return policy


async def listing(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[PolicyFilters]
) -> paging.Page[Policy]:
    authorize(bearer, "policies", Action.READ)
    return await repository.page(session, view(bearer, Policy), asked.filters, asked.paging)


async def update(session: AsyncSession, bearer: Bearer, ref: str, data: PolicyAttributes) -> Policy:
    policy = await find(session, bearer, Policy, ref, "policy", lock=True)
    authorize(bearer, "policies", Action.UPDATE)
    _apply(policy, data, set(data.model_fields_set))
    await events.record(
        session, bearer, EventName.POLICY_UPDATED, policy.id, changed=policy, product=policy.product_id
    )
    policy.updated_at = clock.now()
    await session.flush()
    return policy


async def delete(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    policy = await find(session, bearer, Policy, ref, "policy")
    authorize(bearer, "policies", Action.DELETE)
    gone = await dependents(session, "policy_id", policy.id)
    await events.record(
        session,
        bearer,
        EventName.POLICY_DELETED,
        policy.id,
        metadata={"deleted": gone} if gone else None,
        product=policy.product_id,
    )
    await session.delete(policy)
    await session.flush()


async def product_of(session: AsyncSession, bearer: Bearer, ref: str) -> Product:
    """``GET /policies/{id}/product``."""
    policy = await get(session, bearer, ref)
    product = await repository.product_of(session, policy)
    assert product is not None  # the foreign key holds it
    return product
