"""The overview page's figures, each read through the rule that says who may see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.api_keys import service as api_keys
from keyplane.api_keys.schemas import ApiKeyQuery
from keyplane.auth.principal import Bearer, Principal
from keyplane.auth.scopes import Scope
from keyplane.console import repository
from keyplane.events import service as events
from keyplane.events.notices import API_KEY_WARNING
from keyplane.events.schemas import EventFilters
from keyplane.kit import paging
from keyplane.licensing import status
from keyplane.licensing.vocab import LicenseStatus
from keyplane.models import Credential, Event, Policy

LATEST_EVENTS = 10
EXPIRING_KEYS = 10


@dataclass(frozen=True, slots=True)
class Pool:
    policy: Policy
    size: int

    @property
    def low(self) -> bool:
        """At or under the policy's low threshold (an empty pool always is)."""
        threshold = self.policy.pool_low_threshold
        return self.size == 0 or (threshold is not None and self.size <= threshold)


@dataclass(frozen=True, slots=True)
class Overview:
    active_keys: int
    expiring_keys: Sequence[Credential]
    licensing: bool
    """Whether the user sees the licensing figures (staff do: they see the whole account)."""
    licenses: dict[LicenseStatus, int] = field(default_factory=dict)
    machines: int = 0
    pools: Sequence[Pool] = ()
    events: Sequence[Event] | None = None
    """None: the user may not read the event log (admins only)."""

    @property
    def low_pools(self) -> list[Pool]:
        return [pool for pool in self.pools if pool.low]


async def overview(session: AsyncSession, principal: Principal, bearer: Bearer, now: datetime) -> Overview:
    keys = await api_keys.list_page(session, principal, ApiKeyQuery(limit=1))
    expiring = await api_keys.expiring(session, principal, now + API_KEY_WARNING, EXPIRING_KEYS)
    if not (bearer.is_staff and bearer.has(Scope.READ)):
        return Overview(keys.total, expiring, licensing=False)
    account_id = bearer.account.id
    counts: dict[LicenseStatus, int] = {
        wanted: await repository.count_licenses(session, account_id, status.condition(wanted, now))
        for wanted in LicenseStatus
        if wanted is not LicenseStatus.BANNED
    }
    pools = [Pool(policy, size) for policy, size in await repository.pools(session, account_id)]
    latest = None
    if bearer.is_admin:
        asked = paging.Listed(paging.Paging("limit", LATEST_EVENTS), EventFilters())
        latest = (await events.listing(session, bearer, asked)).items
    return Overview(
        keys.total,
        expiring,
        licensing=True,
        licenses=counts,
        machines=await repository.count_machines(session, account_id),
        pools=pools,
        events=latest,
    )
