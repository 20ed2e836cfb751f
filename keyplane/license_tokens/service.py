"""License tokens (Keygen's activation tokens): a token whose bearer is a license. It
activates and deactivates that license's machines, each within the token's own maximum
(``maxActivations``, ``maxDeactivations``), whatever the license's protection.

Who may issue one and read them: Keygen's ``Licenses::TokenPolicy``. Staff who may write
licenses (admin, developer, sales agent) and the license's product issue; every staff role
and the product read; a user or a license may do neither (403 on a license they see).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import STAFF, Role, Scope, ordered, role_scopes
from keyplane.credentials.engine import CredentialEngine
from keyplane.errors import Forbidden, NotFound
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import paging
from keyplane.kit.credentials import CredentialKind
from keyplane.license_tokens import repository
from keyplane.licenses import service as licenses
from keyplane.models import Credential, License

_ISSUERS = frozenset({Role.ADMIN, Role.DEVELOPER, Role.SALES_AGENT, Role.PRODUCT})
_READERS = STAFF | {Role.PRODUCT}


def _may(bearer: Bearer, scope: Scope, roles: frozenset[Role], verb: str) -> None:
    if not bearer.has(scope):
        raise Forbidden(
            f"This credential lacks the {scope.value} scope (or its owner's role does)", "INSUFFICIENT_SCOPE"
        )
    if bearer.role not in roles:
        raise Forbidden(
            f"You do not have permission to {verb} license tokens (role {bearer.role.value})", "ACCESS_DENIED"
        )


async def issue(
    session: AsyncSession,
    engine: CredentialEngine,
    bearer: Bearer,
    license_ref: str,
    *,
    name: str | None,
    expiry: datetime | None,
    max_activations: int | None,
    max_deactivations: int | None,
) -> tuple[Credential, str]:
    """A token that acts for this license alone; it does not expire unless asked to."""
    license = await licenses.find(session, bearer, license_ref)
    _may(bearer, Scope.CREATE, _ISSUERS, "generate")
    token, plaintext = engine.mint(
        CredentialKind.TOKEN,
        account_id=license.account_id,
        license_id=license.id,
        name=name,
        scopes=ordered(role_scopes(Role.LICENSE.value)),
        expires_at=expiry,
        max_activations=max_activations,
        activations=0,
        max_deactivations=max_deactivations,
        deactivations=0,
    )
    session.add(token)
    await session.flush()
    await events.record(
        session,
        bearer,
        EventName.TOKEN_GENERATED,
        token.id,
        metadata={"license": str(license.id)},
        product=license.product_id,
    )
    return token, plaintext


async def _readable(session: AsyncSession, bearer: Bearer, license_ref: str) -> License:
    license = await licenses.find(session, bearer, license_ref)
    _may(bearer, Scope.READ, _READERS, "read")
    return license


async def listing(
    session: AsyncSession, bearer: Bearer, license_ref: str, asked: paging.Listed[None]
) -> paging.Page[Credential]:
    license = await _readable(session, bearer, license_ref)
    return await repository.page(session, license.id, asked.paging)


async def get(session: AsyncSession, bearer: Bearer, license_ref: str, token_id: uuid.UUID) -> Credential:
    license = await _readable(session, bearer, license_ref)
    token = await repository.one(session, license.id, token_id)
    if token is None:
        raise NotFound("The requested token was not found", "NOT_FOUND")
    return token
