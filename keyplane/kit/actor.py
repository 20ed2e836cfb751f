"""Who acts on a service, in which account, and through which request: what the event log
records of a change.

A service's caller (a ``Principal`` on the API-key surface, a ``Bearer`` on the licensing
one, either made for the system) is its actor: it carries the **whodunnit** (Keygen's name for
the type and id of who acted) and the **origin** (the request id, client address and user
agent of the request it came with, or none for the system's own work).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from keyplane.kit.credentials import CredentialKind


@dataclass(frozen=True, slots=True)
class AccountRef:
    id: uuid.UUID
    slug: str
    id_text: str = field(init=False, repr=False, compare=False)
    """``str(id)``, made once: every signed answer names its account (``UUID.__str__`` is
    Python code)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "id_text", str(self.id))


class ActorType(StrEnum):
    USER = "user"
    API_KEY = "api-key"
    TOKEN = "token"
    """An OAuth access token (made from an API key by the client-credentials grant)."""
    PRODUCT = "product"
    LICENSE = "license"
    SYSTEM = "system"
    """Keyplane itself: background sweeps, and the admin CLI run on the server's host."""
    ANONYMOUS = "anonymous"
    """Someone who did not authenticate (a failed sign-in)."""


@dataclass(frozen=True, slots=True)
class Whodunnit:
    type: ActorType
    id: uuid.UUID | None
    """None for the system."""


SYSTEM = Whodunnit(ActorType.SYSTEM, None)
ANONYMOUS = Whodunnit(ActorType.ANONYMOUS, None)


@dataclass(frozen=True, slots=True)
class Origin:
    """The request an action came with (every field None when the system acts)."""

    request_id: str | None = None
    address: str | None = None
    user_agent: str | None = None


NOWHERE = Origin()


def whodunnit(
    kind: CredentialKind, credential_id: uuid.UUID, user_id: uuid.UUID | None, product_id: uuid.UUID | None
) -> Whodunnit:
    """Who acts with a credential: an API key acts as itself (a user may hold many, each with
    its own scopes), a token for its user or product (as in Keygen), an OAuth access token as
    itself."""
    if kind is CredentialKind.API_KEY:
        return Whodunnit(ActorType.API_KEY, credential_id)
    if kind is CredentialKind.ACCESS_TOKEN:
        return Whodunnit(ActorType.TOKEN, credential_id)
    if user_id is not None:
        return Whodunnit(ActorType.USER, user_id)
    if product_id is not None:
        return Whodunnit(ActorType.PRODUCT, product_id)
    return Whodunnit(ActorType.TOKEN, credential_id)


@dataclass(frozen=True, slots=True)
class Acting:
    """An actor that is not (yet) a request's caller: a user signing in, the system."""

    account: AccountRef
    whodunnit: Whodunnit
    origin: Origin = NOWHERE


class Actor(Protocol):
    """What a service needs of its caller to record what it did."""

    @property
    def account(self) -> AccountRef: ...

    @property
    def whodunnit(self) -> Whodunnit: ...

    @property
    def origin(self) -> Origin: ...


class Reader(Protocol):
    """A caller of a route only admins may use (the event log)."""

    @property
    def account(self) -> AccountRef: ...

    @property
    def is_admin(self) -> bool: ...
