"""Notifications no peer sends by itself: each is in the event log exactly once, whichever
sweep, process or restart comes to it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from keyplane.events.notices import Notifier
from keyplane.kit import clock
from keyplane.models import Credential, License
from keyplane.services import services_of
from tests import factories
from tests.events.support import logged
from tests.factories import Tenant, api_key, bearer


async def _sweep(app: FastAPI) -> None:
    assert await services_of(app).notifier.run_once() is not None


async def _set(app: FastAPI, model: type[License] | type[Credential], id_: str, **values: Any) -> None:
    async with services_of(app).db.writer() as session:
        await session.execute(update(model).where(model.id == uuid.UUID(id_)).values(**values))
        await session.commit()


async def test_a_license_expiring_soon_then_expired(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy = await factories.policy(client, acme)
    expiring = await factories.license(
        client, acme, policy, expiry=(clock.now() + timedelta(days=2)).isoformat()
    )
    soon = expiring["id"]
    await factories.license(client, acme, policy, expiry=(clock.now() + timedelta(days=10)).isoformat())

    await _sweep(app)
    await _sweep(app)  # nothing twice

    [warned] = await logged(app, client, acme, "license.expiring-soon")
    assert warned["relationships"]["resource"]["data"] == {"type": "licenses", "id": soon}
    assert warned["relationships"]["whodunnit"] == {"data": None}
    assert warned["attributes"]["metadata"]["expiry"].startswith(
        str((clock.now() + timedelta(days=2)).date())
    )
    assert await logged(app, client, acme, "license.expired") == []

    await _set(app, License, soon, expiry=clock.now() - timedelta(hours=1))
    await _sweep(app)
    [expired] = await logged(app, client, acme, "license.expired")
    assert expired["relationships"]["resource"]["data"]["id"] == soon


async def test_what_expired_long_ago_is_not_announced(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy = await factories.policy(client, acme)
    old = (await factories.license(client, acme, policy))["id"]
    await _set(app, License, old, expiry=clock.now() - timedelta(days=30))

    await _sweep(app)

    assert await logged(app, client, acme, "license.expired") == []


async def test_a_check_in_overdue(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    policy = await factories.policy(
        client, acme, requireCheckIn=True, checkInInterval="DAY", checkInIntervalCount=1
    )
    late = (await factories.license(client, acme, policy))["id"]
    await factories.license(client, acme, policy)  # created now: not due for a day
    await _set(app, License, late, created_at=clock.now() - timedelta(days=2))

    await _sweep(app)
    await _sweep(app)

    [overdue] = await logged(app, client, acme, "license.check-in-overdue")
    assert overdue["relationships"]["resource"]["data"]["id"] == late
    # Checking in ends it; the next lapse is a new occasion.
    checked = await client.post(f"{acme.base}/licenses/{late}/actions/check-in", headers=bearer(acme.key))
    assert checked.status_code == 200
    await _sweep(app)
    assert len(await logged(app, client, acme, "license.check-in-overdue")) == 1


async def test_api_keys_expiring_soon_and_unused(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    expiring = await api_key(
        client, acme, name="short", expiresAt=(clock.now() + timedelta(days=5)).isoformat()
    )
    idle = await api_key(client, acme, name="idle")
    await _set(app, Credential, str(idle["id"]), created_at=clock.now() - timedelta(days=100))

    await _sweep(app)
    await _sweep(app)

    [warned] = await logged(app, client, acme, "api-key.expiring-soon")
    assert warned["relationships"]["resource"]["data"] == {"type": "api-keys", "id": expiring["id"]}
    unused = await logged(app, client, acme, "api-key.unused")
    assert [entry["relationships"]["resource"]["data"]["id"] for entry in unused] == [idle["id"]]
    assert unused[0]["attributes"]["metadata"] == {"lastUsedAt": None, "days": 90}


async def test_concurrent_sweeps_send_each_once(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy = await factories.policy(client, acme)
    for _ in range(3):
        await factories.license(client, acme, policy, expiry=(clock.now() + timedelta(days=1)).isoformat())
    services = services_of(app)
    other = Notifier(
        services.db, services.settings.unused_key_days, 60
    )  # another process, or after a restart

    await asyncio.gather(services.notifier.run_once(), other.run_once(), services.notifier.run_once())

    assert len(await logged(app, client, acme, "license.expiring-soon")) == 3


async def test_a_pool_running_low_then_empty_then_refilled(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy = await factories.policy(client, acme, usePool=True, poolLowThreshold=1)

    async def add(value: str) -> None:
        await factories.pool_key(client, acme, policy, value)

    async def pop() -> None:
        response = await client.delete(f"{acme.base}/policies/{policy}/pool", headers=bearer(acme.key))
        assert response.status_code == 200, response.text

    for value in ("POOLKEY-1", "POOLKEY-2", "POOLKEY-3"):
        await add(value)
    await pop()  # 2 left
    assert await logged(app, client, acme, "policy.pool.low") == []
    await pop()  # 1 left: low
    await pop()  # 0 left: empty (low was said already)
    [low] = await logged(app, client, acme, "policy.pool.low")
    assert low["attributes"]["metadata"] == {"remaining": 1, "threshold": 1}
    assert len(await logged(app, client, acme, "policy.pool.empty")) == 1

    await add("POOLKEY-4")
    await add("POOLKEY-5")  # above the threshold again
    await pop()  # 1 left: low again
    assert len(await logged(app, client, acme, "policy.pool.low")) == 2
