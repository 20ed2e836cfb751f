from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, UnaryExpression, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from keyplane.kit.credentials import CredentialKind
from keyplane.models import Credential, User
from keyplane.models.base import UTCDateTime
from keyplane.models.credential import LIVE_API_KEY, CredentialStatus


def visible(
    account_id: uuid.UUID, user_id: uuid.UUID | None, status: CredentialStatus | None
) -> list[ColumnElement[bool]]:
    """API keys of an account (of one user unless ``user_id`` is None), by status."""
    conditions = [Credential.account_id == account_id]
    if user_id is not None:
        conditions.append(Credential.user_id == user_id)
    if status == CredentialStatus.ACTIVE:
        return [*conditions, *LIVE_API_KEY]
    conditions.append(Credential.kind == CredentialKind.API_KEY.value)
    if status == CredentialStatus.INACTIVE:
        conditions.append(
            or_(Credential.deleted_at.is_not(None), Credential.status != CredentialStatus.ACTIVE)
        )
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

NEVER = datetime(1, 1, 1, tzinfo=UTC)
"""Where a key never used sorts by ``lastUsedAt``: before every use."""


def filtered(
    conditions: list[ColumnElement[bool]],
    *,
    name: str | None,
    user_id: uuid.UUID | None,
    search: str | None = None,
) -> list[ColumnElement[bool]]:
    """``conditions`` narrowed to keys whose name contains ``name`` (any case) and of
    ``user_id``, and with ``search`` in the name, the ``start`` preview or the owner's email."""
    narrowed = list(conditions)
    if name is not None:
        narrowed.append(Credential.name.icontains(name, autoescape=True))
    if user_id is not None:
        narrowed.append(Credential.user_id == user_id)
    if search is not None:
        owners = select(User.id).where(User.email.icontains(search, autoescape=True))
        narrowed.append(
            or_(
                Credential.name.icontains(search, autoescape=True),
                Credential.start.icontains(search, autoescape=True),
                Credential.user_id.in_(owners),
            )
        )
    return narrowed


async def expiring(
    session: AsyncSession, conditions: list[ColumnElement[bool]], until: datetime, limit: int
) -> Sequence[Credential]:
    """Keys among ``conditions`` that expire by ``until`` (soonest first)."""
    statement = (
        select(Credential)
        .where(*conditions, Credential.expires_at.is_not(None), Credential.expires_at <= until)
        .order_by(Credential.expires_at, Credential.id)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


def _sort_column(field: str | None) -> ColumnElement[datetime] | None:
    if field == "createdAt":
        return Credential.created_at.expression
    if field == "lastUsedAt":
        return func.coalesce(Credential.last_used_at, literal(NEVER, UTCDateTime()))
    return None


def _sort_value(key: Credential, field: str | None) -> datetime | None:
    if field == "createdAt":
        return key.created_at
    if field == "lastUsedAt":
        return key.last_used_at or NEVER
    return None


def _beyond(
    column: ColumnElement[datetime] | None, anchor: Credential, field: str | None, descending: bool
) -> ColumnElement[bool]:
    """Keys after ``anchor`` in the order (``column``, id), descending or not."""
    if column is None:
        return Credential.id < anchor.id if descending else Credential.id > anchor.id
    value = _sort_value(anchor, field)
    if descending:
        return or_(column < value, and_(column == value, Credential.id < anchor.id))
    return or_(column > value, and_(column == value, Credential.id > anchor.id))


async def page(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    *,
    limit: int,
    offset: int,
    after: Credential | None,
    before: Credential | None,
    sort: str | None = None,
    descending: bool = True,
) -> tuple[Sequence[Credential], bool]:
    """Up to ``limit`` keys in the order asked (by ``sort``, ``createdAt`` or ``lastUsedAt``,
    ties by id; without one, by id: ids are time-ordered, so newest first), and whether more
    lie beyond in the paging direction. ``after``/``before`` are the keys a page starts
    after or ends before: the order is total, so pages neither skip nor repeat a key.

    An offset past what any table holds is an empty page, not a number the database refuses
    (both take at most a signed 64-bit ``OFFSET``).
    """
    if offset > MAX_OFFSET:
        return [], False
    column = _sort_column(sort)
    statement = select(Credential.id).where(*conditions)
    # Paging backwards walks the order reversed, then turns the page round.
    walk = descending if before is None else not descending
    anchor = before if before is not None else after
    if anchor is not None:
        statement = statement.where(_beyond(column, anchor, sort, walk))
    keys: list[UnaryExpression[Any]] = [Credential.id.desc() if walk else Credential.id.asc()]
    if column is not None:
        keys.insert(0, column.desc() if walk else column.asc())
    # The keys skipped by the offset, and those sorted to find the page, are carried as ids
    # (read from an index when the order is the id's): only the page's own rows are read whole.
    chosen = statement.order_by(*keys).offset(offset).limit(limit + 1).subquery()
    shown = select(Credential).join(chosen, chosen.c.id == Credential.id).order_by(*keys)
    rows = list((await session.scalars(shown)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if before is not None:
        rows.reverse()
    return rows, more


async def add(session: AsyncSession, credential: Credential) -> Credential:
    session.add(credential)
    await session.flush()
    return credential
