"""Users of an account: staff with roles, and end customers (role ``user``)."""

from __future__ import annotations

import uuid

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Principal
from keyplane.auth.scopes import Scope
from keyplane.credentials import repository as credentials
from keyplane.errors import Forbidden, NotFound, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.credentials import CredentialKind
from keyplane.kit.passwords import hash_password
from keyplane.models import User
from keyplane.users import repository
from keyplane.users.schemas import UserCreateAttributes, UserFilters, UserUpdateAttributes

_ROLE = "/data/attributes/role"


async def create(session: AsyncSession, principal: Principal, data: UserCreateAttributes) -> User:
    if not principal.has(Scope.MANAGE):
        raise Forbidden("Creating users needs the MANAGE scope", "INSUFFICIENT_SCOPE")
    email = data.email.strip().lower()
    if await repository.by_email(session, principal.account.id, email) is not None:
        raise Unprocessable("has already been taken", "EMAIL_TAKEN", pointer="/data/attributes/email")
    user = User(
        account_id=principal.account.id,
        email=email,
        first_name=data.first_name,
        last_name=data.last_name,
        role=data.role.value,
        password_hash=await hash_password(data.password) if data.password else None,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # Lost a race with a concurrent create of the same email.
        raise Unprocessable(
            "has already been taken", "EMAIL_TAKEN", pointer="/data/attributes/email"
        ) from None
    await events.record(session, principal, EventName.USER_CREATED, user.id)
    return user


async def get(session: AsyncSession, principal: Principal, ref: str) -> User:
    """By id or email; a user outside the caller's view is 404, never 403."""
    try:
        user = await repository.by_id(session, principal.account.id, uuid.UUID(ref))
    except ValueError:
        user = await repository.by_email(session, principal.account.id, ref)
    if user is None or (user.id != principal.user_id and not principal.has(Scope.MANAGE)):
        raise NotFound("The requested user was not found", "NOT_FOUND")
    return user


async def list_users(
    session: AsyncSession, principal: Principal, asked: paging.Listed[UserFilters]
) -> paging.Page[User]:
    if not principal.has(Scope.MANAGE):
        raise Forbidden("Listing users needs the MANAGE scope", "INSUFFICIENT_SCOPE")
    return await repository.page(session, principal.account.id, asked.filters, asked.paging)


async def update(session: AsyncSession, principal: Principal, ref: str, data: UserUpdateAttributes) -> User:
    user = await get(session, principal, ref)
    sent = data.model_fields_set
    if "role" in sent and data.role is not None and data.role.value != user.role:
        if not principal.has(Scope.MANAGE):
            raise Forbidden("Changing a role needs the MANAGE scope", "INSUFFICIENT_SCOPE")
        if user.id == principal.user_id:
            raise Unprocessable("You cannot change your own role", "ROLE_NOT_ALLOWED", pointer=_ROLE)
        user.role = data.role.value
    if "first_name" in sent:
        user.first_name = data.first_name
    if "last_name" in sent:
        user.last_name = data.last_name
    if "password" in sent:
        user.password_hash = await hash_password(data.password) if data.password else None
    await events.record(session, principal, EventName.USER_UPDATED, user.id, changed=user)
    user.updated_at = clock.now()
    if _ends_tokens(user):
        await _revoke_tokens(session, principal, user)
    await session.flush()
    return user


def _ends_tokens(user: User) -> bool:
    """A new password or a new role ends what the old one opened (as Keygen revokes a user's
    tokens on both): every token of theirs, and their console sessions, which hold a stamp
    of the password."""
    changed = inspect(user).attrs
    return changed.password_hash.history.has_changes() or changed.role.history.has_changes()


async def _revoke_tokens(session: AsyncSession, principal: Principal, user: User) -> None:
    acting = principal.credential_id if principal.credential_kind is CredentialKind.TOKEN else None
    for token_id in await credentials.revoke_user_tokens(session, user.id, acting, user.updated_at):
        await events.record(session, principal, EventName.TOKEN_REVOKED, token_id)


async def delete(session: AsyncSession, principal: Principal, ref: str) -> None:
    """Delete a user and, with it, every credential it owns."""
    if not principal.has(Scope.MANAGE):
        raise Forbidden("Deleting users needs the MANAGE scope", "INSUFFICIENT_SCOPE")
    user = await get(session, principal, ref)
    if user.id == principal.user_id:
        raise Unprocessable("You cannot delete yourself", "USER_NOT_ALLOWED", pointer="/data")
    await events.record(session, principal, EventName.USER_DELETED, user.id)
    await repository.delete(session, user)
