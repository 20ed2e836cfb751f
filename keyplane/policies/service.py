"""Policies: CRUD with Keygen's defaults and rules. ``usePool`` and ``scheme`` are fixed at
creation; deleting a policy deletes its pool keys and licenses with it."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.errors import Forbidden, InvalidResource
from keyplane.kit import clock, paging
from keyplane.licensing.access import Action, authorize, view
from keyplane.licensing.records import as_uuid, find
from keyplane.models import Policy, Product
from keyplane.policies.schemas import PolicyAttributes, PolicyCreateAttributes

SUPPORTED_SCHEMES: frozenset[str] = frozenset()
"""Key schemes this server can issue keys for."""
_COPIED = (
    "duration",
    "strict",
    "floating",
    "protected",
    "max_machines",
    "max_processes",
    "max_users",
    "max_cores",
    "max_memory",
    "max_disk",
    "max_uses",
    "machine_uniqueness_strategy",
    "machine_matching_strategy",
    "expiration_strategy",
    "expiration_basis",
    "renewal_basis",
    "transfer_strategy",
    "authentication_strategy",
    "machine_leasing_strategy",
    "process_leasing_strategy",
    "overage_strategy",
    "require_product_scope",
    "require_policy_scope",
    "require_machine_scope",
    "require_fingerprint_scope",
    "require_user_scope",
    "require_checksum_scope",
    "require_version_scope",
    "require_check_in",
    "check_in_interval",
    "check_in_interval_count",
    "require_heartbeat",
    "heartbeat_duration",
    "heartbeat_cull_strategy",
    "heartbeat_resurrection_strategy",
    "heartbeat_basis",
)


def _pointer(name: str) -> str:
    head, *rest = name.split("_")
    return "/data/attributes/" + head + "".join(part.title() for part in rest)


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
                pointer=_pointer("max_machines"),
            )
        policy.max_machines = 1
    if policy.require_check_in and (
        policy.check_in_interval is None or policy.check_in_interval_count is None
    ):
        missing = "check_in_interval" if policy.check_in_interval is None else "check_in_interval_count"
        raise InvalidResource(
            "is required when requireCheckIn is true",
            f"{missing.upper()}_MISSING",
            pointer=_pointer(missing),
        )


async def _product(session: AsyncSession, bearer: Bearer, ref: str) -> Product:
    """The product a new policy belongs to: 422 if it does not exist, 403 if it is not the
    product token's own."""
    product_id = as_uuid(ref)
    found = None
    if product_id is not None:
        found = await session.scalar(select(Product).where(*view(bearer, Product), Product.id == product_id))
    if found is None:
        if not bearer.is_staff:
            raise Forbidden("You do not have permission to create policies for this product")
        raise InvalidResource("must exist", "PRODUCT_NOT_FOUND", pointer="/data/relationships/product")
    return found


async def create(
    session: AsyncSession, bearer: Bearer, data: PolicyCreateAttributes, product_ref: str
) -> Policy:
    authorize(bearer, "policies", Action.CREATE)
    product = await _product(session, bearer, product_ref)
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
    session.add(policy)
    await session.flush()
    return policy


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> Policy:
    policy = await find(session, bearer, Policy, ref, "policy")
    authorize(bearer, "policies", Action.READ)
    return policy


async def listing(
    session: AsyncSession, request: Request, bearer: Bearer, product: str | None
) -> paging.Page[Policy]:
    authorize(bearer, "policies", Action.READ)
    conditions = view(bearer, Policy)
    if product is not None:
        conditions.append(Policy.product_id == as_uuid(product))
    return await paging.fetch(session, request, paging.parse(request), select(Policy), Policy.id, conditions)


async def update(session: AsyncSession, bearer: Bearer, ref: str, data: PolicyAttributes) -> Policy:
    policy = await find(session, bearer, Policy, ref, "policy", lock=True)
    authorize(bearer, "policies", Action.UPDATE)
    _apply(policy, data, set(data.model_fields_set))
    policy.updated_at = clock.now()
    await session.flush()
    return policy


async def delete(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    policy = await find(session, bearer, Policy, ref, "policy")
    authorize(bearer, "policies", Action.DELETE)
    await session.delete(policy)
    await session.flush()


async def product_of(session: AsyncSession, bearer: Bearer, ref: str) -> Product:
    """``GET /policies/{id}/product``."""
    policy = await get(session, bearer, ref)
    product = await session.get(Product, policy.product_id)
    assert product is not None  # the foreign key holds it
    return product
