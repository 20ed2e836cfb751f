"""The delivery worker waits for its turn to write however long the process's other writers
keep it, rather than give up after a request's wait: on SQLite, while a load saturated the
process, its claims timed out behind the event log's flushes and nothing was delivered."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI

from keyplane.config import Settings
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant
from tests.webhooks.receiver import Receiver

REQUEST_WAIT = 0.05
"""A request's wait for its turn to write (``database_pool_timeout``), made short for the
test itself (not for its set-up, whose writers take turns with the app's background work):
the worker is kept waiting several times longer."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhooks_allow_private": True})


async def test_the_worker_waits_for_its_turn_to_write_past_a_requests_wait(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    services = services_of(app)
    await services.webhooks.stop()  # rounds run here, one at a time
    await factories.webhook_endpoint(client, acme, receiver.url(), subscriptions=["license.created"])
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product)
    license = await factories.license(client, acme, policy)

    usual = services.db.timeouts
    services.db.timeouts = replace(usual, pool=REQUEST_WAIT)
    try:
        async with services.db.writer():
            # Another writer holds the turn (on SQLite; PostgreSQL has no turns) for much
            # longer than a request would wait for it.
            round_ = asyncio.create_task(services.webhooks.deliver_due())
            await asyncio.sleep(REQUEST_WAIT * 6)
        assert await round_ == 1
    finally:
        services.db.timeouts = usual

    [received] = await receiver.wait_for(1)
    assert received.headers["content-type"] == "application/json"
    assert license["id"] in received.body.decode()
