"""Tokens: credentials a user obtains with email and password (``POST /tokens``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import AccountRef, Principal
from keyplane.auth.scopes import Role, Scope, ordered, role_scopes
from keyplane.credentials.engine import CredentialEngine
from keyplane.errors import NotFound, Unauthorized, Unprocessable
from keyplane.kit import clock, paging
from keyplane.kit.credentials import CredentialKind
from keyplane.kit.passwords import verify_password
from keyplane.models import Credential, User
from keyplane.users import repository as users


async def login(session: AsyncSession, account: AccountRef, email: str, password: str) -> User:
    user = await users.by_email(session, account.id, email)
    if not await verify_password(password, user.password_hash if user else None) or user is None:
        raise Unauthorized(
            "The email or password is incorrect",
            "CREDENTIALS_INVALID",
            headers={"WWW-Authenticate": 'Basic realm="keyplane"'},
        )
    return user


async def issue(
    session: AsyncSession,
    engine: CredentialEngine,
    user: User,
    *,
    name: str | None,
    expiry: datetime | None,
    ttl: timedelta,
) -> tuple[Credential, str]:
    now = clock.now()
    if expiry is not None and expiry <= now:
        raise Unprocessable("must be in the future", "EXPIRY_INVALID", pointer="/data/attributes/expiry")
    token, plaintext = engine.mint(
        CredentialKind.TOKEN,
        account_id=user.account_id,
        user_id=user.id,
        name=name,
        scopes=ordered(role_scopes(user.role)),
        expires_at=expiry or now + ttl,
    )
    session.add(token)
    await session.flush()
    return token, plaintext


def _visible(principal: Principal) -> list[ColumnElement[bool]]:
    conditions = [
        Credential.account_id == principal.account.id,
        Credential.kind == CredentialKind.TOKEN.value,
        Credential.deleted_at.is_(None),
    ]
    if not principal.has(Scope.MANAGE):
        conditions.append(Credential.user_id == principal.user_id)
    return conditions


def _with_role() -> Select[Credential, str]:
    return select(Credential, func.coalesce(User.role, Role.PRODUCT.value)).outerjoin(
        User, User.id == Credential.user_id
    )


async def list_tokens(
    session: AsyncSession, request: Request, principal: Principal
) -> tuple[Sequence[tuple[Credential, str]], dict[str, Any] | None]:
    """Tokens with their owner's role, newest first, and the page's links."""
    page = await paging.fetch(
        session, request, paging.parse(request), select(Credential), Credential.id, _visible(principal)
    )
    owners = {token.user_id for token in page.items if token.user_id is not None}
    roles: dict[uuid.UUID, str] = {}
    if owners:
        rows = await session.execute(select(User.id, User.role).where(User.id.in_(owners)))
        roles = {user_id: role for user_id, role in rows}
    tokens = [
        (token, roles.get(token.user_id, Role.PRODUCT.value) if token.user_id else Role.PRODUCT.value)
        for token in page.items
    ]
    return tokens, page.links


async def get(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> tuple[Credential, str]:
    row = (await session.execute(_with_role().where(*_visible(principal), Credential.id == token_id))).first()
    if row is None:
        raise NotFound("The requested token was not found", "NOT_FOUND")
    return row[0], row[1]


async def revoke(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> None:
    token, _ = await get(session, principal, token_id)
    now = clock.now()
    token.deleted_at = now
    token.status = "inactive"
    token.updated_at = now
    await session.flush()
