"""Console sessions: sign-in, the signed-in user on each request, sign-out, and the CSRF
tokens of their forms. No framework here; ``keyplane.console.pages`` is the HTTP side.

A session's secret lives only in the browser's cookie; the table keeps its keyed hash (the
server secret is the key, as for every credential), so a copy of the database signs no one
in. A session ends when it is signed out, when it expires (``LIFETIME`` after sign-in),
when its user is deleted, and when its user's password changes (``password_stamp``).

The signed-in user acts through the services with exactly the power of their role: as a
``Principal`` on the API-key surface and as a ``Bearer`` on the licensing one, both with the
user as whodunnit, so the event log names them whatever the console does.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import AccountRef, Bearer, Principal
from keyplane.auth.scopes import Role, Scope, role_scopes
from keyplane.console import repository
from keyplane.kit.actor import ActorType, Origin, Whodunnit
from keyplane.kit.credentials import CredentialHasher, CredentialKind
from keyplane.models import ConsoleSession, User

LIFETIME = timedelta(hours=12)
"""How long a console session lasts after sign-in (then the user signs in again)."""


def _digest(hasher: CredentialHasher, purpose: str, value: str) -> bytes:
    # One keyed hash, a distinct purpose for each use: no value made for one use is valid
    # for another (a session digest is never a CSRF token).
    return hasher.digest(f"keyplane-console-{purpose}:{value}")


def password_stamp(hasher: CredentialHasher, user: User) -> bytes:
    return _digest(hasher, "password", user.password_hash or "")


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The user of a console request."""

    session_id: uuid.UUID
    user: User
    account: AccountRef
    secret: str
    """The session's secret (what its forms' CSRF tokens are bound to)."""

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    @property
    def scopes(self) -> frozenset[Scope]:
        return role_scopes(self.user.role)

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes

    @property
    def whodunnit(self) -> Whodunnit:
        return Whodunnit(ActorType.USER, self.user.id)

    def principal(self, origin: Origin) -> Principal:
        """The user as the API-key surface's caller, with their role's every scope."""
        return Principal(
            account=self.account,
            user_id=self.user.id,
            role=self.role,
            credential_id=self.session_id,
            credential_kind=CredentialKind.TOKEN,
            scopes=self.scopes,
            expires_at=None,
            whitelisted_ips=None,
            api_version=None,
            whodunnit=self.whodunnit,
            origin=origin,
        )

    def bearer(self, origin: Origin) -> Bearer:
        """The user as the licensing surface's caller."""
        return Bearer(
            account=self.account,
            role=self.role,
            user_id=self.user.id,
            product_id=None,
            credential_id=self.session_id,
            scopes=self.scopes,
            whodunnit=self.whodunnit,
            origin=origin,
        )


async def start(
    session: AsyncSession, hasher: CredentialHasher, user: User, now: datetime
) -> tuple[ConsoleSession, str]:
    """A new session for ``user`` (whose password was just checked), and its secret."""
    await repository.delete_ended(session, user.id, now, password_stamp(hasher, user))
    secret = secrets.token_urlsafe(32)
    row = ConsoleSession(
        account_id=user.account_id,
        user_id=user.id,
        digest=_digest(hasher, "session", secret),
        password_stamp=password_stamp(hasher, user),
        created_at=now,
        expires_at=now + LIFETIME,
    )
    await repository.add_session(session, row)
    return row, secret


async def resume(
    session: AsyncSession, hasher: CredentialHasher, secret: str, now: datetime
) -> SignedIn | None:
    """The user signed in with this session secret; None when there is no such session or
    it is over (expired, or the password changed since)."""
    found = await repository.session_by_digest(session, _digest(hasher, "session", secret))
    if found is None:
        return None
    row, user, account = found
    if row.expires_at <= now or not hmac.compare_digest(row.password_stamp, password_stamp(hasher, user)):
        return None  # over; the user's next sign-in deletes it (a read writes nothing)
    return SignedIn(row.id, user, AccountRef(account.id, account.slug), secret)


async def end(session: AsyncSession, hasher: CredentialHasher, secret: str) -> None:
    """Sign out: the session with this secret ends (none: nothing to do)."""
    found = await repository.session_by_digest(session, _digest(hasher, "session", secret))
    if found is not None:
        await repository.delete_session(session, found[0].id)


def csrf_token(hasher: CredentialHasher, binding: str) -> str:
    """The CSRF token of the forms of a browser whose session (or, before sign-in, whose
    sign-in cookie) is ``binding``: only a page served to that browser carries it."""
    return _digest(hasher, "csrf", binding).hex()


def csrf_valid(hasher: CredentialHasher, binding: str | None, sent: str | None) -> bool:
    if not binding or not sent:
        return False
    return hmac.compare_digest(csrf_token(hasher, binding), sent)
