"""Queries on licenses."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.licensing.keystrings import digest
from keyplane.models import License, User


async def by_id_or_key(
    session: AsyncSession, conditions: list[ColumnElement[bool]], ref: str, *, lock: bool = False
) -> License | None:
    """A license by id, else by key (a key may look like a UUID without being an id)."""
    candidates: list[ColumnElement[bool]] = []
    with contextlib.suppress(ValueError):
        candidates.append(License.id == uuid.UUID(ref))
    candidates.append(License.key_digest == digest(ref))
    for candidate in candidates:
        statement = select(License).where(*conditions, candidate)
        if lock:
            statement = statement.with_for_update()
        found = await session.scalar(statement)
        if found is not None:
            return found
    return None


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
