"""One check for every credential, whether it authenticates a request or is verified for a
vendor's backend.

``CredentialState`` is everything the check needs and nothing it does not (no plaintext),
so it can be kept in a cache and re-checked against the clock and the caller's address on
every use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.network import Address, allowed
from keyplane.auth.scopes import SCOPE_NAMES, Scope, role_scopes
from keyplane.credentials import repository
from keyplane.kit.credentials import CredentialHasher, CredentialKind, generate, parse
from keyplane.models import Credential


class Outcome(StrEnum):
    VALID = "VALID"
    MALFORMED = "MALFORMED"
    NOT_FOUND = "NOT_FOUND"
    REVOKED = "REVOKED"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"
    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"


DETAILS = {
    Outcome.VALID: "is valid",
    Outcome.MALFORMED: "is not a well-formed Keyplane credential",
    Outcome.NOT_FOUND: "does not exist",
    Outcome.REVOKED: "has been deleted",
    Outcome.INACTIVE: "is inactive",
    Outcome.EXPIRED: "is expired",
    Outcome.IP_NOT_ALLOWED: "may not be used from this address",
    Outcome.INSUFFICIENT_SCOPE: "lacks a required scope",
}


@dataclass(frozen=True, slots=True)
class CredentialState:
    id: uuid.UUID
    account_id: uuid.UUID
    user_id: uuid.UUID | None
    product_id: uuid.UUID | None
    """A product token's product (then ``user_id`` is None and ``role`` is ``product``)."""
    parent_id: uuid.UUID | None
    kind: CredentialKind
    digest: bytes
    role: str
    scopes: frozenset[Scope]
    """Effective scopes: the credential's own, within what its owner's role allows."""
    status: str
    deleted: bool
    expires_at: datetime | None
    whitelisted_ips: tuple[str, ...] | None
    api_version: str | None
    name: str | None

    def evaluate(
        self, now: datetime, address: Address | None, required: frozenset[Scope] = frozenset()
    ) -> Outcome:
        """The first rule this credential breaks for this use, in a fixed order, or VALID."""
        if self.deleted:
            return Outcome.REVOKED
        if self.status != "active":
            return Outcome.INACTIVE
        if self.expires_at is not None and self.expires_at <= now:
            return Outcome.EXPIRED
        if not allowed(address, self.whitelisted_ips):
            return Outcome.IP_NOT_ALLOWED
        if not required <= self.scopes:
            return Outcome.INSUFFICIENT_SCOPE
        return Outcome.VALID


class CredentialEngine:
    def __init__(self, hasher: CredentialHasher) -> None:
        self.hasher = hasher

    def mint(self, kind: CredentialKind, **columns: Any) -> tuple[Credential, str]:
        """A new active credential row (not yet in a session) and its plaintext.

        The plaintext is for the caller to show once; the row keeps only the lookup handle,
        the keyed digest and the non-secret ``start`` preview.
        """
        plaintext, parsed = generate(kind)
        row = Credential(
            kind=kind.value,
            lookup=parsed.lookup,
            digest=self.hasher.digest(plaintext),
            start=parsed.start,
            status="active",
            **columns,
        )
        return row, plaintext

    async def resolve(self, session: AsyncSession, plaintext: str) -> tuple[Outcome, CredentialState | None]:
        """MALFORMED or NOT_FOUND, or the credential's state (to be evaluated by the caller).

        A malformed credential costs no I/O. A wrong secret behind a real lookup handle is
        NOT_FOUND, the same answer as an unknown handle, compared in constant time.
        """
        parsed = parse(plaintext)
        if parsed is None:
            return Outcome.MALFORMED, None
        row = await repository.state_row(session, parsed.lookup)
        if row is None:
            return Outcome.NOT_FOUND, None
        credential, role = row
        if not self.hasher.matches(plaintext, credential.digest):
            return Outcome.NOT_FOUND, None
        stored = frozenset(Scope(scope) for scope in credential.scopes if scope in SCOPE_NAMES)
        state = CredentialState(
            id=credential.id,
            account_id=credential.account_id,
            user_id=credential.user_id,
            product_id=credential.product_id,
            parent_id=credential.parent_id,
            kind=CredentialKind(credential.kind),
            digest=credential.digest,
            role=role,
            scopes=stored & role_scopes(role),
            status=credential.status,
            deleted=credential.deleted_at is not None,
            expires_at=credential.expires_at,
            whitelisted_ips=tuple(credential.whitelisted_ips) if credential.whitelisted_ips else None,
            api_version=credential.api_version,
            name=credential.name,
        )
        return Outcome.VALID, state
