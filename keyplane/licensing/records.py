"""Finding one record within the bearer's view: an unknown or unseen record is 404."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.errors import NotFound
from keyplane.licensing.access import view
from keyplane.models import License, Policy, PoolKey, Product

M = TypeVar("M", Product, Policy, PoolKey, License)


def not_found(noun: str, ref: object) -> NotFound:
    return NotFound(f"The requested {noun} '{ref}' was not found", "NOT_FOUND")


def as_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


async def find(
    session: AsyncSession, bearer: Bearer, model: type[M], ref: str, noun: str, *, lock: bool = False
) -> M:
    """The record with id ``ref`` the bearer may see, or 404."""
    record_id = as_uuid(ref)
    if record_id is None:
        raise not_found(noun, ref)
    statement = select(model).where(*view(bearer, model), model.id == record_id)
    if lock:
        statement = statement.with_for_update()
    found = await session.scalar(statement)
    if found is None:
        raise not_found(noun, ref)
    return found
