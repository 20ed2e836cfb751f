from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from keyplane.auth.scopes import STAFF, Role, Scope, role_scopes
from keyplane.kit.actor import NOWHERE, SYSTEM, Origin, Whodunnit
from keyplane.kit.actor import AccountRef as AccountRef
from keyplane.kit.credentials import CredentialKind


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, resolved once: who, in which account, with what power."""

    account: AccountRef
    user_id: uuid.UUID | None
    """None for the system (``Principal.system``)."""
    role: Role
    credential_id: uuid.UUID | None
    """None for the system."""
    credential_kind: CredentialKind | None
    scopes: frozenset[Scope]
    """Effective: the credential's scopes within the owner's role."""
    expires_at: datetime | None
    whitelisted_ips: tuple[str, ...] | None
    api_version: str | None
    whodunnit: Whodunnit
    """Who acts (``keyplane.kit.actor``): the API key itself, or a token's user."""
    rate_limit: tuple[int, int] | None = None
    """The credential's (requests, window seconds), an access token's its key's; None: unlimited."""
    budget_id: uuid.UUID | None = None
    """With a ``rate_limit``: the budget a key this caller makes must share (the caller's
    own, or the one it already shares)."""
    origin: Origin = NOWHERE
    """The request this caller came with (the lean handlers, which only read, leave it out)."""

    @classmethod
    def system(cls, account: AccountRef) -> Principal:
        """Keyplane itself acting on ``account`` with an admin's power, and no user or
        credential of its own (the admin CLI on the server's host)."""
        return cls(
            account=account,
            user_id=None,
            role=Role.ADMIN,
            credential_id=None,
            credential_kind=None,
            scopes=role_scopes(Role.ADMIN.value),
            expires_at=None,
            whitelisted_ips=None,
            api_version=None,
            whodunnit=SYSTEM,
        )

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class Bearer:
    """The caller of a licensing route: a user of any role, a product token, or a license.

    A product token's power is its product's records; a user's (role ``user``) is the
    licenses they own; staff roles see the whole account.
    """

    account: AccountRef
    role: Role
    user_id: uuid.UUID | None
    product_id: uuid.UUID | None
    credential_id: uuid.UUID | None
    """None for the system."""
    scopes: frozenset[Scope]
    whodunnit: Whodunnit
    """Who acts (``keyplane.kit.actor``): a user, an API key, a product, a license, the system."""
    license_id: uuid.UUID | None = None
    """Set when a license authenticates (with its own key, or with one of its tokens)."""
    license_token_id: uuid.UUID | None = None
    """Set when a license authenticates with one of its tokens (Keygen's activation token):
    the activations and deactivations it makes count against that token."""
    origin: Origin = NOWHERE
    """The request this caller came with."""

    @classmethod
    def system(cls, account: AccountRef) -> Bearer:
        """Keyplane itself acting on ``account`` with an admin's power (background work, the
        admin CLI on the server's host)."""
        return cls(
            account=account,
            role=Role.ADMIN,
            user_id=None,
            product_id=None,
            credential_id=None,
            scopes=role_scopes(Role.ADMIN.value),
            whodunnit=SYSTEM,
        )

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    @property
    def is_license(self) -> bool:
        return self.role is Role.LICENSE

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_product(self) -> bool:
        return self.role is Role.PRODUCT
