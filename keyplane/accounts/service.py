"""Accounts and their first admin: what ``keyplane init`` sets up."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.accounts import repository
from keyplane.accounts.signing import KeyRing
from keyplane.auth.principal import AccountRef
from keyplane.auth.scopes import ALL_SCOPES, Role, ordered
from keyplane.credentials import versions
from keyplane.credentials.engine import CredentialEngine
from keyplane.errors import Conflict, Unprocessable
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import passwords
from keyplane.kit.actor import SYSTEM, Acting
from keyplane.kit.credentials import CredentialKind
from keyplane.kit.ids import as_uuid, uuid7
from keyplane.kit.passwords import hash_password
from keyplane.models import Account, User

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Bootstrap:
    account: Account
    admin: User
    api_key: str


async def bootstrap(
    session: AsyncSession,
    engine: CredentialEngine,
    keys: KeyRing,
    *,
    slug: str,
    name: str | None,
    email: str,
    password: str,
) -> Bootstrap:
    """Create an account with its signing key pair, its first admin user and a full-power
    admin API key."""
    if not SLUG.match(slug) or as_uuid(slug) is not None:
        raise Unprocessable(
            "A slug is 1-63 lower-case letters, digits and dashes, starting with a letter or digit",
            "SLUG_INVALID",
        )
    if not EMAIL.match(email):
        raise Unprocessable(f"{email!r} is not an email address", "EMAIL_INVALID")
    refused = passwords.refusal(password)
    if refused is not None:
        raise Unprocessable(refused, "PASSWORD_NOT_ALLOWED")
    if await repository.by_id_or_slug(session, slug) is not None:
        raise Conflict(f"An account with slug '{slug}' already exists", "SLUG_TAKEN")
    account = Account(id=uuid7(), slug=slug, name=name or slug)
    keys.new_pair(account)
    session.add(account)
    await session.flush()
    admin = User(
        account_id=account.id,
        email=email.strip().lower(),
        role=Role.ADMIN.value,
        password_hash=await hash_password(password),
    )
    session.add(admin)
    await session.flush()
    key, plaintext = engine.mint(
        CredentialKind.API_KEY,
        account_id=account.id,
        user_id=admin.id,
        name="Admin key (keyplane init)",
        scopes=ordered(ALL_SCOPES),
        api_version=versions.CURRENT,
    )
    session.add(key)
    await session.flush()
    system = Acting(AccountRef(account.id, account.slug), SYSTEM)
    await events.record(session, system, EventName.ACCOUNT_CREATED, account.id)
    await events.record(session, system, EventName.USER_CREATED, admin.id)
    await events.record(session, system, EventName.API_KEY_CREATED, key.id)
    return Bootstrap(account, admin, plaintext)
