"""Tokens: credentials a user obtains with email and password (``POST /tokens``), or a bearer
with its current token; regenerated and revoked as Keygen does.

Keygen's rules (``app/models/token.rb``, ``app/policies/token_policy.rb``): a user's token
(role ``user``) lasts two weeks unless an ``expiry`` is asked for; every other bearer's token
does not expire unless one is; ``"expiry": null`` asks for none. Regenerating gives a token a
new secret (the old one stops working at once) and, if it expires, two weeks from now.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import AccountRef, Bearer
from keyplane.auth.scopes import Role, Scope, ordered, role_scopes
from keyplane.credentials.engine import CredentialEngine
from keyplane.errors import Forbidden, NotFound, Unauthorized, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.actor import Actor, ActorType
from keyplane.kit.credentials import CredentialKind, generate
from keyplane.kit.passwords import verify_password
from keyplane.models import Credential, User
from keyplane.models.credential import CredentialStatus
from keyplane.tokens import repository
from keyplane.tokens.throttle import LoginThrottle
from keyplane.users import repository as users

EMAIL = re.compile(r"([^@\s]+)@((?:[-a-z0-9]+\.)+[a-z]{2,})", re.IGNORECASE)
"""What Keygen takes for an email in Basic credentials (``config/initializers/regexp.rb``)."""
_BASIC = {"WWW-Authenticate": 'Basic realm="keyplane"'}
_ADMINS = frozenset({Role.ADMIN, Role.DEVELOPER})
_OTHERS_ADMINS_REGENERATE = frozenset({Role.PRODUCT.value, Role.LICENSE.value, Role.USER.value})
"""Whose tokens an admin or developer regenerates besides their own (Keygen's
``TokenPolicy#regenerate?``): products', licenses', end users'."""


def _refused(detail: str, code: str) -> Unauthorized:
    # Keygen's wording and codes (app/controllers/concerns/authentication.rb).
    return Unauthorized(detail, code, header="Authorization", headers=_BASIC)


async def login(
    session: AsyncSession,
    account: AccountRef,
    email: str,
    password: str,
    failed: Callable[[uuid.UUID], None] | None = None,
) -> User:
    """The user with this email and password, else 401 with Keygen's code: ``EMAIL_REQUIRED``
    (not an email), ``EMAIL_INVALID`` (no such user), ``PASSWORD_NOT_SUPPORTED`` (a user
    without a password), ``PASSWORD_REQUIRED``, ``PASSWORD_INVALID``. Keygen tells an unknown
    email from a wrong password on purpose (a client picks its sign-in flow by it); the
    sign-in throttle bounds what a guesser learns. ``failed`` is told of a wrong password for
    a user that exists: the event log notes it."""
    email = email.strip()
    if EMAIL.fullmatch(email) is None:
        raise _refused("email is required", "EMAIL_REQUIRED")
    user = await users.by_email(session, account.id, email)
    if user is None:
        raise _refused("email must be valid", "EMAIL_INVALID")
    if user.password_hash is None:
        raise _refused("password is unsupported", "PASSWORD_NOT_SUPPORTED")
    if not password:
        raise _refused("password is required", "PASSWORD_REQUIRED")
    if not await verify_password(password, user.password_hash):
        if failed is not None:
            failed(user.id)
        raise _refused("password must be valid", "PASSWORD_INVALID")
    return user


async def sign_in(
    session: AsyncSession,
    throttle: LoginThrottle,
    account: AccountRef,
    email: str,
    password: str,
    failed: Callable[[uuid.UUID], None] | None = None,
) -> User:
    """``login`` within the sign-in throttle: every sign-in with a password (``POST /tokens``,
    the console) goes through here. A spent budget refuses the attempt (429) before the
    password is checked; a refused attempt is counted against it."""
    await throttle.check()
    try:
        return await login(session, account, email, password, failed)
    except Unauthorized:
        await throttle.failed()
        raise


@dataclass(frozen=True, slots=True)
class Expiry:
    """What a request said of a new token's expiry: nothing (the bearer's default), null
    (none), or an instant."""

    sent: bool = False
    at: datetime | None = None


def _expires_at(role: Role, expiry: Expiry, ttl: timedelta) -> datetime | None:
    now = clock.now()
    if not expiry.sent:
        return now + ttl if role is Role.USER else None
    if expiry.at is not None and expiry.at <= now:
        raise Unprocessable("must be in the future", "EXPIRY_INVALID", pointer="/data/attributes/expiry")
    return expiry.at


async def issue(
    session: AsyncSession,
    engine: CredentialEngine,
    user: User,
    actor: Actor,
    *,
    name: str | None,
    expiry: Expiry,
    ttl: timedelta,
    scopes: frozenset[Scope] | None = None,
) -> tuple[Credential, str]:
    """A token for ``user`` (``scopes``: at most its role's), generated by ``actor``."""
    role = Role(user.role)
    allowed = role_scopes(user.role)
    token, plaintext = engine.mint(
        CredentialKind.TOKEN,
        account_id=user.account_id,
        user_id=user.id,
        name=name,
        scopes=ordered(allowed if scopes is None else scopes & allowed),
        expires_at=_expires_at(role, expiry, ttl),
    )
    session.add(token)
    await session.flush()
    await events.record(session, actor, EventName.TOKEN_GENERATED, token.id)
    return token, plaintext


async def for_user(
    session: AsyncSession,
    engine: CredentialEngine,
    actor: Actor,
    acting: tuple[uuid.UUID, Role, frozenset[Scope] | None],
    target: uuid.UUID | None,
    *,
    name: str | None,
    expiry: Expiry,
    ttl: timedelta,
) -> tuple[Credential, str, User]:
    """A token generated by a signed-in user (``acting``: id, role, and the scopes of the
    credential it used, None for a password) for themselves, or, by an admin or developer,
    for an end user (role ``user``), as Keygen's ``TokenPolicy#generate?`` allows."""
    acting_id, acting_role, scopes = acting
    user = await users.by_id(session, actor.account.id, target or acting_id)
    if user is None:
        raise NotFound("The requested user was not found", "NOT_FOUND", pointer="/data/relationships/bearer")
    mine = user.id == acting_id
    if not mine and not (acting_role in _ADMINS and user.role == Role.USER.value):
        raise Forbidden(
            "You do not have permission to complete the request "
            "(ensure the token or license is allowed to access all resources)",
            "ACCESS_DENIED",
        )
    token, plaintext = await issue(
        session, engine, user, actor, name=name, expiry=expiry, ttl=ttl, scopes=scopes if mine else None
    )
    return token, plaintext, user


async def for_bearer(
    session: AsyncSession,
    engine: CredentialEngine,
    bearer: Bearer,
    target: uuid.UUID | None,
    *,
    name: str | None,
    expiry: Expiry,
    ttl: timedelta,
) -> tuple[Credential, str, User]:
    """A token generated with a token (Keygen's token authentication on ``POST /tokens``).
    API keys and OAuth access tokens cannot make tokens (a token would outlive their scopes
    and address rules); products and licenses get theirs elsewhere (Keygen refuses a product
    a token for itself too)."""
    if bearer.whodunnit.type is not ActorType.USER or bearer.user_id is None:
        raise Forbidden(
            "You do not have permission to complete the request (generate a token with a user's "
            "token, or with email and password)",
            "TOKEN_NOT_ALLOWED",
        )
    if not bearer.has(Scope.CREATE):
        raise Forbidden("This credential lacks the CREATE scope", "INSUFFICIENT_SCOPE")
    acting = (bearer.user_id, bearer.role, bearer.scopes)
    return await for_user(session, engine, bearer, acting, target, name=name, expiry=expiry, ttl=ttl)


def _visible(bearer: Bearer) -> list[ColumnElement[bool]]:
    return repository.visible(
        bearer.account.id,
        user_id=bearer.user_id,
        product_id=bearer.product_id,
        license_id=bearer.license_id,
        everyone=bearer.has(Scope.MANAGE) and bearer.is_staff,
    )


def _may(bearer: Bearer, scope: Scope) -> None:
    if not bearer.has(scope):
        raise Forbidden(
            f"This credential lacks the {scope.value} scope (or its owner's role does)", "INSUFFICIENT_SCOPE"
        )


def bearer_role(token: Credential, roles: dict[uuid.UUID, str]) -> str:
    """The role ``token`` acts with, given its user's role in ``roles``."""
    if token.user_id is not None:
        return roles.get(token.user_id, Role.USER.value)
    return Role.LICENSE.value if token.license_id is not None else Role.PRODUCT.value


async def list_tokens(
    session: AsyncSession, bearer: Bearer, asked: paging.Listed[None]
) -> paging.Page[tuple[Credential, str]]:
    """Tokens with their owner's role, newest first: every user's for an admin, the product's
    own for a product token, the caller's own otherwise."""
    _may(bearer, Scope.READ)
    page = await repository.page(session, _visible(bearer), asked.paging)
    roles = await repository.roles(session, (t.user_id for t in page.items if t.user_id is not None))
    tokens = [(token, bearer_role(token, roles)) for token in page.items]
    return paging.Page(tokens, page.paging, page.next_cursor, page.total)


async def get(session: AsyncSession, bearer: Bearer, token_id: uuid.UUID | None) -> tuple[Credential, str]:
    """A token the bearer may see (404 otherwise, an id that is no token's id included)."""
    found = None if token_id is None else await repository.with_role(session, _visible(bearer), token_id)
    if found is None:
        raise NotFound("The requested token was not found", "NOT_FOUND")
    return found


def _own(bearer: Bearer, token: Credential) -> bool:
    return (
        (token.user_id is not None and token.user_id == bearer.user_id)
        or (token.product_id is not None and token.product_id == bearer.product_id)
        or (token.license_id is not None and token.license_id == bearer.license_id)
    )


async def regenerate(
    session: AsyncSession,
    engine: CredentialEngine,
    bearer: Bearer,
    token_id: uuid.UUID | None,
    ttl: timedelta,
) -> tuple[Credential, str, str]:
    """A new secret for a token (the old one stops working at once); an expiring token
    expires ``ttl`` from now. Anyone may regenerate their own tokens, an admin or developer
    also product tokens, activation tokens and end users' (Keygen's ``TokenPolicy#regenerate?``)."""
    token, role = await get(session, bearer, token_id)
    _may(bearer, Scope.UPDATE)
    if not _own(bearer, token) and not (bearer.role in _ADMINS and role in _OTHERS_ADMINS_REGENERATE):
        raise Forbidden(
            "You do not have permission to complete the request (another staff member's token)",
            "ACCESS_DENIED",
        )
    plaintext, parsed = generate(CredentialKind.TOKEN)
    now = clock.now()
    token.lookup = parsed.lookup
    token.digest = engine.hasher.digest(plaintext)
    token.start = parsed.start
    token.updated_at = now
    if token.expires_at is not None:
        token.expires_at = now + ttl
    await session.flush()
    await events.record(session, bearer, EventName.TOKEN_REGENERATED, token.id, product=token.product_id)
    return token, role, plaintext


def _revoked(token: Credential) -> None:
    now = clock.now()
    token.deleted_at = now
    token.status = CredentialStatus.INACTIVE
    token.updated_at = now


async def revoke(session: AsyncSession, bearer: Bearer, token_id: uuid.UUID | None) -> None:
    token, _ = await get(session, bearer, token_id)
    _may(bearer, Scope.DELETE)
    _revoked(token)
    await events.record(session, bearer, EventName.TOKEN_REVOKED, token.id, product=token.product_id)
    await session.flush()
