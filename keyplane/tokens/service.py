"""Tokens: credentials a user obtains with email and password (``POST /tokens``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import AccountRef, Principal
from keyplane.auth.scopes import Role, Scope, ordered, role_scopes
from keyplane.credentials.engine import CredentialEngine
from keyplane.errors import NotFound, Unauthorized, Unprocessable
from keyplane.kit import clock
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
    session: AsyncSession, principal: Principal, limit: int
) -> Sequence[tuple[Credential, str]]:
    """Tokens with their owner's role, newest first."""
    statement = _with_role().where(*_visible(principal)).order_by(Credential.id.desc()).limit(limit)
    return [(token, role) for token, role in (await session.execute(statement)).all()]


async def get(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> tuple[Credential, str]:
    row = (await session.execute(_with_role().where(*_visible(principal), Credential.id == token_id))).first()
    if row is None:
        raise NotFound(f"The requested token '{token_id}' was not found", "NOT_FOUND")
    return row[0], row[1]


async def revoke(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> None:
    token, _ = await get(session, principal, token_id)
    now = clock.now()
    token.deleted_at = now
    token.status = "inactive"
    token.updated_at = now
    await session.flush()
