"""Machine components' rules: a fingerprint unique where the policy's
``componentUniquenessStrategy`` looks, never reserved or repeated, and at most 20 with one
activation. Used by machine activation (nested components) and by ``POST /components``.

The caller holds its license's row locked (as machine activations lock it), so the checks of
one license are serialized; across licenses a unique index over the strategy's scope holds
(as for machine fingerprints).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.components import repository
from keyplane.components.schemas import NESTED_MAX, ComponentAttributes
from keyplane.errors import BadRequest, InvalidResource, InvalidResources, Unprocessable
from keyplane.kit import clock
from keyplane.kit.ids import uuid7
from keyplane.models import License, MachineComponent, Policy
from keyplane.models.policy import ComponentUniquenessStrategy as Unique

RESERVED = frozenset({"actions", "action"})
"""Keygen's ``EXCLUDED_ALIASES``: words its routes use where an id goes."""
TAKEN_IN = {
    Unique.UNIQUE_PER_ACCOUNT: "has already been taken for this account",
    Unique.UNIQUE_PER_PRODUCT: "has already been taken for this product",
    Unique.UNIQUE_PER_POLICY: "has already been taken for this policy",
    Unique.UNIQUE_PER_LICENSE: "has already been taken for this license",
    Unique.UNIQUE_PER_MACHINE: "has already been taken",
}
"""Keygen's detail for a taken fingerprint, by strategy."""


class _Where:
    """Where a component's errors point, and their codes: its own document's attributes, or
    one of a machine's nested components (``COMPONENTS_`` codes, the item's index)."""

    def __init__(self, index: int | None) -> None:
        self.index = index

    def pointer(self, name: str) -> str:
        if self.index is None:
            return f"/data/attributes/{name}"
        return f"/data/relationships/components/data/{self.index}/attributes/{name}"

    def code(self, code: str) -> str:
        return code if self.index is None else f"COMPONENTS_{code}"

    def invalid(self, detail: str, code: str, name: str = "fingerprint") -> InvalidResource:
        return InvalidResource(detail, self.code(code), pointer=self.pointer(name))


def refuse_blank(items: Sequence[ComponentAttributes], *, nested: bool) -> None:
    """400 "cannot be blank" for a blank fingerprint or name (Keygen's typed params), before
    anything is looked up; 422 "too many records" past 20 nested components."""
    if nested and len(items) > NESTED_MAX:
        raise Unprocessable(
            "too many records", "COMPONENTS_LIMIT_EXCEEDED", pointer="/data/relationships/components"
        )
    for index, item in enumerate(items):
        where = _Where(index if nested else None)
        for name in ("fingerprint", "name"):
            if not getattr(item, name).strip():
                raise BadRequest(
                    "cannot be blank", where.code(f"{name.upper()}_MISSING"), pointer=where.pointer(name)
                )


def uniqueness_scope(strategy: Unique, license: License, machine_id: uuid.UUID) -> uuid.UUID:
    match strategy:
        case Unique.UNIQUE_PER_ACCOUNT:
            return license.account_id
        case Unique.UNIQUE_PER_PRODUCT:
            return license.product_id
        case Unique.UNIQUE_PER_POLICY:
            return license.policy_id
        case Unique.UNIQUE_PER_LICENSE:
            return license.id
        case Unique.UNIQUE_PER_MACHINE:
            return machine_id


async def add(
    session: AsyncSession,
    license: License,
    policy: Policy,
    machine_id: uuid.UUID,
    items: Sequence[ComponentAttributes],
    *,
    nested: bool,
) -> list[MachineComponent]:
    """Add ``items`` to the machine (its license's row locked by the caller): 422 for a
    fingerprint that is reserved, repeated among ``items`` ("is duplicated") or already
    taken where the policy's strategy looks, every such error listed."""
    strategy = policy.component_uniqueness_strategy
    digests = [repository.fingerprint_digest(item.fingerprint) for item in items]
    repeated = Counter(digests)
    taken = await repository.taken(session, strategy, license, machine_id, set(digests))
    errors: list[InvalidResource] = []
    for index, (item, digest) in enumerate(zip(items, digests, strict=True)):
        where = _Where(index if nested else None)
        if item.fingerprint in RESERVED:
            errors.append(where.invalid("is reserved", "FINGERPRINT_NOT_ALLOWED"))
        elif repeated[digest] > 1:
            errors.append(where.invalid("is duplicated", "FINGERPRINT_CONFLICT"))
        elif digest in taken:
            errors.append(where.invalid(TAKEN_IN[strategy], "FINGERPRINT_TAKEN"))
    if errors:
        raise errors[0] if len(errors) == 1 else InvalidResources(errors)
    scope = uniqueness_scope(strategy, license, machine_id)
    now = clock.now()
    added = [
        MachineComponent(
            id=uuid7(),
            account_id=license.account_id,
            product_id=license.product_id,
            license_id=license.id,
            machine_id=machine_id,
            uniqueness_scope=scope,
            fingerprint=item.fingerprint,
            fingerprint_digest=digest,
            name=item.name,
            meta=item.metadata or {},
            created_at=now,
            updated_at=now,
        )
        for item, digest in zip(items, digests, strict=True)
    ]
    session.add_all(added)
    try:
        await session.flush()
    except IntegrityError:
        # Another license of the same scope took a fingerprint meanwhile.
        raise _Where(0 if nested else None).invalid(TAKEN_IN[strategy], "FINGERPRINT_TAKEN") from None
    return added
