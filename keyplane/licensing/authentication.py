"""``Authorization: License <key>``: a license acting for itself, where its policy allows it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import AccountRef, Bearer
from keyplane.auth.scopes import Role, role_scopes
from keyplane.errors import Forbidden, Unauthorized
from keyplane.kit import clock
from keyplane.kit.actor import ActorType, Origin, Whodunnit
from keyplane.licensing.keystrings import digest
from keyplane.models import License, Policy
from keyplane.models.policy import AuthenticationStrategy, ExpirationStrategy

LICENSE_STRATEGIES = frozenset({AuthenticationStrategy.LICENSE, AuthenticationStrategy.MIXED})


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
