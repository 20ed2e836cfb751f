"""Finding one record within the bearer's view: an unknown or unseen record is 404."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.errors import Forbidden, InvalidResource, NotFound
from keyplane.kit.ids import as_uuid
from keyplane.licensing.access import view
from keyplane.models import License, Machine, Policy, PoolKey, Product

M = TypeVar("M", Product, Policy, PoolKey, License, Machine)


def not_found(noun: str) -> NotFound:
    """404 for a record the bearer cannot see. The detail never repeats the id or key that
    was asked for: a credential pasted into a URL by mistake must not come back in a body
    (or in whatever logs the body)."""
    return NotFound(f"The requested {noun} was not found", "NOT_FOUND")


async def target(
    session: AsyncSession,
    bearer: Bearer,
    model: type[M],
    ref: str,
    conditions: list[ColumnElement[bool]],
    *,
    code: str,
    pointer: str,
    denied: str,
) -> M:
    """The record a new one is to point at (a relationship in a create request).

    Staff see the whole account, so for them a record outside ``conditions`` does not exist:
    422 ``code`` ("must exist"). Anyone else may not point there: 403, even when the id is
    made up, so a product token learns nothing about other products.
    """
    record_id = as_uuid(ref)
    found = None
    if record_id is not None:
        found = await session.scalar(select(model).where(*conditions, model.id == record_id))
    if found is None:
        if not bearer.is_staff:
            raise Forbidden(denied, "ACCESS_DENIED")
        raise InvalidResource("must exist", code, pointer=pointer)
    return found


async def find(
    session: AsyncSession, bearer: Bearer, model: type[M], ref: str, noun: str, *, lock: bool = False
) -> M:
    """The record with id ``ref`` the bearer may see, or 404."""
    record_id = as_uuid(ref)
    if record_id is None:
        raise not_found(noun)
    statement = select(model).where(*view(bearer, model), model.id == record_id)
    if lock:
        statement = statement.with_for_update()
    found = await session.scalar(statement)
    if found is None:
        raise not_found(noun)
    return found


async def dependents(session: AsyncSession, column: str, owner_id: uuid.UUID) -> dict[str, int]:
    """How many policies, pool keys, licenses and machines point at ``owner_id`` through
    ``column`` (``product_id``, ``policy_id``, ``license_id``): what deleting it takes with it,
    for its event. Only the kinds that have the column and are not empty are named."""
    counts: dict[str, int] = {}
    for name, model in (
        ("policies", Policy),
        ("keys", PoolKey),
        ("licenses", License),
        ("machines", Machine),
    ):
        owner = getattr(model, column, None)
        if owner is None:
            continue
        found = int(
            await session.scalar(select(func.count()).select_from(model).where(owner == owner_id)) or 0
        )
        if found:
            counts[name] = found
    return counts
