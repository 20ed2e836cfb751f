"""A backlog is delivered a batch at a time: a round claims many due deliveries, sends them
side by side, and writes their outcomes together, so a receiver that was down, or a burst of
validations (each an event, so a delivery), drains in a few rounds and a few statements
rather than a transaction or two per delivery."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select

from keyplane.config import Settings
from keyplane.db import Database
from keyplane.events import service as events
from keyplane.kit.actor import NOWHERE
from keyplane.models import WebhookEvent
from keyplane.models.webhook_event import DeliveryStatus
from keyplane.services import services_of
from keyplane.webhooks.delivery import BATCH
from tests import factories
from tests.factories import Tenant
from tests.webhooks.receiver import Receiver

BACKLOG = 300


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhooks_allow_private": True, "webhooks_poll_seconds": 0.05})


@contextmanager
def _statements(database: Database, words: str) -> Iterator[list[int]]:
    """The statements that say ``words`` (``UPDATE webhook_events``: the writes to the
    outbox) while inside: one entry each, the number of rows it was run for (an
    ``executemany`` is one statement)."""
    seen: list[int] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if words.upper() in " ".join(statement.split()).upper():
            seen.append(len(parameters) if many else 1)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def test_a_backlog_of_validations_is_delivered_in_a_few_rounds_of_batched_writes(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, receiver: Receiver
) -> None:
    services = services_of(app)
    await services.webhooks.stop()
    await factories.webhook_endpoint(
        client, acme, receiver.url(), subscriptions=["license.validation.succeeded"]
    )
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product)
    license = await factories.license(client, acme, policy)
    license_id, product_id = uuid.UUID(license["id"]), uuid.UUID(product)
    for _ in range(BACKLOG):
        events.validated(services.events, acme.id, license_id, product_id, True, "VALID", None, NOWHERE)
    assert await services.events.flush() == BACKLOG  # their deliveries commit with them

    claims: list[int] = []
    with (
        _statements(services.db, "UPDATE webhook_events") as updates,
        _statements(services.db, "FROM licenses") as license_reads,
        _statements(services.db, "FROM policies") as policy_reads,
    ):
        while claimed := await services.webhooks.deliver_due():
            claims.append(claimed)

    # Every validation reached the receiver, each its own webhook event, signed payload and all.
    assert len(receiver.received) == BACKLOG
    sent = [json.loads(each.body)["data"] for each in receiver.received]
    assert len({each["id"] for each in sent}) == BACKLOG
    assert {each["attributes"]["event"] for each in sent} == {"license.validation.succeeded"}
    assert {json.loads(each["attributes"]["payload"])["data"]["id"] for each in sent} == {license["id"]}
    async with services.db.reader() as session:
        statuses = dict(
            (
                await session.execute(select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status))
            ).all()
        )
    assert statuses == {DeliveryStatus.DELIVERED.value: BACKLOG}

    # A round claims a batch, not one delivery...
    assert claims == [BATCH] * (BACKLOG // BATCH)
    # ...and writes its claims, its payloads and its outcomes a statement each, whatever
    # the batch's size: three per round, not two per delivery.
    assert len(updates) == 3 * len(claims)
    # Its payloads are rendered from the license (and its policy) read once, not once per
    # delivery: a hundred validations of one license are one document.
    assert len(license_reads) == len(claims)
    assert len(policy_reads) == len(claims)
