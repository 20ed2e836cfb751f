"""When a license's expiry clock starts: at creation, or at the first validation,
activation or use, as its policy's ``expirationBasis`` says (Keygen's ``license.rb``:
``set_expiry_on_first_validation!``, ``set_expiry_on_first_activation!``,
``set_expiry_on_first_use!``). The expiry is the policy's ``duration`` after that event, as
a calendar duration (``keyplane.kit.instants.plus_duration``); a license that already has
an expiry keeps it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.db import touched
from keyplane.kit.instants import after_duration
from keyplane.licenses import repository
from keyplane.models import License, Policy
from keyplane.models.policy import ExpirationBasis

_EXPIRY = "/data/attributes/expiry"


def waits_for(license: License, policy: Policy, basis: ExpirationBasis) -> bool:
    """Whether ``license`` has no expiry yet and its clock starts at ``basis``'s event."""
    return license.expiry is None and bool(policy.duration) and policy.expiration_basis == basis


async def start(
    session: AsyncSession, license: License, policy: Policy, basis: ExpirationBasis, now: datetime
) -> None:
    """Start the clock at ``basis``'s event, happening ``now``: once, whatever runs at the
    same time (one conditional UPDATE; a concurrent first event that won keeps its expiry,
    which ``license`` then shows)."""
    if not waits_for(license, policy, basis):
        return
    expiry = after_duration(now, policy.duration or 0, code="EXPIRY_INVALID", pointer=_EXPIRY)
    await repository.start_expiry(session, license.id, expiry, now)
    touched(session, license.id)
    await session.refresh(license, ["expiry", "updated_at"])
