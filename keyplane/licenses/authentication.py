"""``Authorization: License <key>``: a license acting for itself, where its policy allows it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import AccountRef, Bearer
from keyplane.auth.scopes import Role, role_scopes
from keyplane.credentials.engine import CredentialState
from keyplane.errors import Forbidden, Unauthorized
from keyplane.kit import clock
from keyplane.kit.actor import ActorType, Origin, Whodunnit
from keyplane.licensing.keystrings import digest
from keyplane.models import License, Policy
from keyplane.models.policy import AuthenticationStrategy, ExpirationStrategy

LICENSE_STRATEGIES = frozenset({AuthenticationStrategy.LICENSE, AuthenticationStrategy.MIXED})
TOKEN_STRATEGIES = frozenset({AuthenticationStrategy.TOKEN, AuthenticationStrategy.MIXED})


async def license_bearer(session: AsyncSession, account: AccountRef, key: str, origin: Origin) -> Bearer:
    row = (
        await session.execute(
            select(License, Policy)
            .join(Policy, Policy.id == License.policy_id)
            .where(License.account_id == account.id, License.key_digest == digest(key))
        )
    ).first()
    if row is None:
        raise Unauthorized("The license key is invalid", "LICENSE_INVALID")
    license, policy = row
    if policy.authentication_strategy not in LICENSE_STRATEGIES:
        raise Forbidden(
            "This license's policy does not allow license key authentication", "LICENSE_NOT_ALLOWED"
        )
    if license.suspended:
        raise Forbidden("The license is suspended", "LICENSE_SUSPENDED")
    expired = license.expiry is not None and license.expiry <= clock.now()
    if expired and policy.expiration_strategy == ExpirationStrategy.REVOKE_ACCESS:
        raise Forbidden("The license is expired", "LICENSE_EXPIRED")
    return Bearer(
        account=account,
        role=Role.LICENSE,
        user_id=None,
        product_id=license.product_id,
        credential_id=license.id,
        scopes=role_scopes(Role.LICENSE.value),
        whodunnit=Whodunnit(ActorType.LICENSE, license.id),
        license_id=license.id,
        origin=origin,
    )


async def license_token_bearer(
    session: AsyncSession, account: AccountRef, state: CredentialState, origin: Origin
) -> Bearer:
    """A license acting through one of its tokens (checked already), where its policy allows
    token authentication (Keygen: 403 ``TOKEN_NOT_ALLOWED`` otherwise). The policy is read
    on every use, so a change of strategy applies at once."""
    row = (
        await session.execute(
            select(License.product_id, Policy.authentication_strategy)
            .join(Policy, Policy.id == License.policy_id)
            .where(License.account_id == account.id, License.id == state.license_id)
        )
    ).first()
    if row is None:  # the license went, and its tokens with it
        raise Unauthorized("The credential is invalid", "TOKEN_INVALID")
    product_id, strategy = row
    if strategy not in TOKEN_STRATEGIES:
        raise Forbidden("Token authentication is not allowed by policy", "TOKEN_NOT_ALLOWED")
    return Bearer(
        account=account,
        role=Role.LICENSE,
        user_id=None,
        product_id=product_id,
        credential_id=state.id,
        scopes=state.scopes,
        whodunnit=Whodunnit(ActorType.LICENSE, state.license_id),
        license_id=state.license_id,
        license_token_id=state.id,
        origin=origin,
    )
