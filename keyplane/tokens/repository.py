"""Queries on tokens (credentials of kind ``token``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.credentials.repository import bearer_role
from keyplane.kit import paging
from keyplane.kit.credentials import CredentialKind
from keyplane.models import Credential, User


def visible(
    account_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    product_id: uuid.UUID | None,
    license_id: uuid.UUID | None,
    everyone: bool,
) -> list[ColumnElement[bool]]:
    """The account's live tokens: everyone's, or only those of the bearer: a user's, a
    product's (a product token), a license's (its activation tokens)."""
    conditions = [
        Credential.account_id == account_id,
        Credential.kind == CredentialKind.TOKEN.value,
        Credential.deleted_at.is_(None),
    ]
    if everyone:
        return conditions
    if user_id is not None:
        conditions.append(Credential.user_id == user_id)
    elif product_id is not None:
        conditions.append(Credential.product_id == product_id)
    else:
        conditions.append(Credential.license_id == license_id)
    return conditions


def _with_role() -> Select[Credential, str]:
    return select(Credential, bearer_role()).outerjoin(User, User.id == Credential.user_id)


async def page(
    session: AsyncSession, conditions: list[ColumnElement[bool]], paged: paging.Paging
) -> paging.Page[Credential]:
    return await paging.fetch(session, paged, select(Credential), Credential.id, conditions)


async def roles(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The role of each of these users."""
    owners = set(user_ids)
    if not owners:
        return {}
    rows = await session.execute(select(User.id, User.role).where(User.id.in_(owners)))
    return {user_id: role for user_id, role in rows}


async def with_role(
    session: AsyncSession, conditions: list[ColumnElement[bool]], token_id: uuid.UUID
) -> tuple[Credential, str] | None:
    """A token and its owner's role (``product`` for a product token)."""
    row = (await session.execute(_with_role().where(*conditions, Credential.id == token_id))).first()
    return None if row is None else (row[0], row[1])
