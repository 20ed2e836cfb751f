"""Tokens: credentials a user obtains with email and password (``POST /tokens``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import AccountRef, Principal
from keyplane.auth.scopes import Role, Scope, ordered, role_scopes
from keyplane.credentials.engine import CredentialEngine
from keyplane.errors import NotFound, Unauthorized, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.actor import Acting, ActorType, Origin, Whodunnit
from keyplane.kit.credentials import CredentialKind
from keyplane.kit.passwords import verify_password
from keyplane.models import Credential, User
from keyplane.models.credential import CredentialStatus
from keyplane.tokens import repository
from keyplane.users import repository as users


async def login(
    session: AsyncSession,
    account: AccountRef,
    email: str,
    password: str,
    failed: Callable[[uuid.UUID], None] | None = None,
) -> User:
    """The user with this email and password, else 401 (``failed`` is told of a wrong password
    for a user that exists: the event log notes it)."""
    user = await users.by_email(session, account.id, email)
    if not await verify_password(password, user.password_hash if user else None) or user is None:
        if user is not None and failed is not None:
            failed(user.id)
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
    account: AccountRef,
    origin: Origin,
) -> tuple[Credential, str]:
    """A token for ``user``, who has just signed in (from ``origin``)."""
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
    actor = Acting(account, Whodunnit(ActorType.USER, user.id), origin)
    await events.record(session, actor, EventName.TOKEN_GENERATED, token.id)
    return token, plaintext


def bearer_role(token: Credential, roles: dict[uuid.UUID, str]) -> str:
    """The role ``token`` acts with, given its user's role in ``roles``."""
    if token.user_id is not None:
        return roles.get(token.user_id, Role.USER.value)
    return Role.LICENSE.value if token.license_id is not None else Role.PRODUCT.value


def _visible(principal: Principal) -> list[ColumnElement[bool]]:
    everyone = principal.has(Scope.MANAGE)
    return repository.visible(principal.account.id, principal.user_id, everyone=everyone)


async def list_tokens(
    session: AsyncSession, principal: Principal, asked: paging.Listed[None]
) -> paging.Page[tuple[Credential, str]]:
    """Tokens with their owner's role, newest first."""
    page = await repository.page(session, _visible(principal), asked.paging)
    roles = await repository.roles(session, (t.user_id for t in page.items if t.user_id is not None))
    tokens = [(token, bearer_role(token, roles)) for token in page.items]
    return paging.Page(tokens, page.paging, page.next_cursor, page.total)


async def get(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> tuple[Credential, str]:
    found = await repository.with_role(session, _visible(principal), token_id)
    if found is None:
        raise NotFound("The requested token was not found", "NOT_FOUND")
    return found


async def revoke(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> None:
    token, _ = await get(session, principal, token_id)
    now = clock.now()
    token.deleted_at = now
    token.status = CredentialStatus.INACTIVE
    token.updated_at = now
    await events.record(session, principal, EventName.TOKEN_REVOKED, token.id, product=token.product_id)
    await session.flush()
