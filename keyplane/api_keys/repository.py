from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from keyplane.kit.credentials import CredentialKind
from keyplane.models import Credential


def visible(
    account_id: uuid.UUID, user_id: uuid.UUID | None, status: Literal["active", "inactive"] | None
) -> list[ColumnElement[bool]]:
    """API keys of an account (of one user unless ``user_id`` is None), by status."""
    conditions = [
        Credential.account_id == account_id,
        Credential.kind == CredentialKind.API_KEY.value,
    ]
    if user_id is not None:
        conditions.append(Credential.user_id == user_id)
    if status == "active":
        conditions += [Credential.deleted_at.is_(None), Credential.status == "active"]
    elif status == "inactive":
        conditions.append(or_(Credential.deleted_at.is_not(None), Credential.status != "active"))
    return conditions


def _one(conditions: list[ColumnElement[bool]], key_id: uuid.UUID) -> Select[Credential]:
    return select(Credential).where(*conditions, Credential.id == key_id)


async def get(
    session: AsyncSession, conditions: list[ColumnElement[bool]], key_id: uuid.UUID, *, lock: bool = False
) -> Credential | None:
    statement = _one(conditions, key_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


def get_in(session: Session, conditions: list[ColumnElement[bool]], key_id: uuid.UUID) -> Credential | None:
    """``get`` on a synchronous session (``Database.read``)."""
    return session.scalar(_one(conditions, key_id))


async def count(session: AsyncSession, conditions: list[ColumnElement[bool]]) -> int:
    total = await session.scalar(select(func.count()).select_from(Credential).where(*conditions))
    return int(total or 0)


MAX_OFFSET = 2**62
"""More rows than any table holds, and well inside a signed 64-bit integer."""


async def page(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    *,
    limit: int,
    offset: int,
    after: uuid.UUID | None,
    before: uuid.UUID | None,
) -> tuple[Sequence[Credential], bool]:
    """Up to ``limit`` keys, newest first, and whether more lie beyond in the paging direction.

    Ids are time-ordered, so the primary key is the sort key and the cursor alike. An
    offset past what any table holds is an empty page, not a number the database refuses
    (both take at most a signed 64-bit ``OFFSET``).
    """
    if offset > MAX_OFFSET:
        return [], False
    statement = select(Credential).where(*conditions)
    if before is not None:
        statement = statement.where(Credential.id > before).order_by(Credential.id.asc())
    else:
        if after is not None:
            statement = statement.where(Credential.id < after)
        statement = statement.order_by(Credential.id.desc())
    rows = list((await session.scalars(statement.offset(offset).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if before is not None:
        rows.reverse()
    return rows, more


async def add(session: AsyncSession, credential: Credential) -> Credential:
    session.add(credential)
    await session.flush()
    return credential
