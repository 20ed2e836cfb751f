"""Scopes, roles, and what each role may ever do.

A request may do what its owner's role allows AND what its credential's scopes allow.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache


class Scope(StrEnum):
    READ = "READ"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    MANAGE = "MANAGE"
    """Users, other users' keys, account settings."""


class Role(StrEnum):
    ADMIN = "admin"
    DEVELOPER = "developer"
    READ_ONLY = "read-only"
    SUPPORT_AGENT = "support-agent"
    SALES_AGENT = "sales-agent"
    USER = "user"
    PRODUCT = "product"
    """Not a person: the role of a product token, which acts for one product alone."""
    LICENSE = "license"
    """Not a person: a license authenticating with its own key (``Authorization: License``)."""


ALL_SCOPES = frozenset(Scope)
SCOPE_NAMES = frozenset(scope.value for scope in Scope)
_WRITE = frozenset({Scope.READ, Scope.CREATE, Scope.UPDATE, Scope.DELETE})

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: ALL_SCOPES,
    Role.DEVELOPER: _WRITE,
    Role.READ_ONLY: frozenset({Scope.READ}),
    Role.SUPPORT_AGENT: frozenset({Scope.READ, Scope.UPDATE}),
    Role.SALES_AGENT: _WRITE,
    # End customers manage their own keys; ownership rules keep them to their own records.
    Role.USER: _WRITE,
    Role.PRODUCT: _WRITE,
    Role.LICENSE: _WRITE,
}
STAFF = frozenset({Role.ADMIN, Role.DEVELOPER, Role.READ_ONLY, Role.SUPPORT_AGENT, Role.SALES_AGENT})
"""Roles that see every record of their account."""
USER_ROLES = frozenset(Role) - {Role.PRODUCT, Role.LICENSE}


class TokenKind(StrEnum):
    """A token's ``kind`` as Keygen names it: its bearer's role."""

    ADMIN = "admin-token"
    DEVELOPER = "developer-token"
    READ_ONLY = "read-only-token"
    SUPPORT = "support-token"
    SALES = "sales-token"
    USER = "user-token"
    PRODUCT = "product-token"
    ACTIVATION = "activation-token"
    """A license's token: it activates and deactivates that license's machines."""


TOKEN_KINDS: dict[Role, TokenKind] = {
    Role.ADMIN: TokenKind.ADMIN,
    Role.DEVELOPER: TokenKind.DEVELOPER,
    Role.READ_ONLY: TokenKind.READ_ONLY,
    Role.SUPPORT_AGENT: TokenKind.SUPPORT,
    Role.SALES_AGENT: TokenKind.SALES,
    Role.USER: TokenKind.USER,
    Role.PRODUCT: TokenKind.PRODUCT,
    Role.LICENSE: TokenKind.ACTIVATION,
}
"""Every role a token can have."""


def role_scopes(role: str) -> frozenset[Scope]:
    """The scopes a role allows; an unknown role (a corrupt row) allows nothing."""
    try:
        return ROLE_SCOPES[Role(role)]
    except ValueError:
        return frozenset()


def ordered(scopes: frozenset[Scope] | set[Scope]) -> list[str]:
    """Scopes in their canonical order, for storage and display."""
    if isinstance(scopes, frozenset):
        return list(_ordered(scopes))
    return [scope.value for scope in Scope if scope in scopes]


@lru_cache(maxsize=256)
def _ordered(scopes: frozenset[Scope]) -> tuple[str, ...]:
    return tuple(scope.value for scope in Scope if scope in scopes)
