"""The event batch inserts its rows through one JSON parameter (``keyplane.models.bulk``);
what it stores must be what the ORM stores for the same values, on SQLite and PostgreSQL
alike: the event log's filters and pages, the retention's pruning and the delivery worker
read rows of both kinds side by side."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.config import Settings
from keyplane.events import service as events
from keyplane.events.batch import EVENTS
from keyplane.events.fanout import DELIVERIES
from keyplane.kit.actor import Origin
from keyplane.kit.ids import uuid7
from keyplane.models import Event, WebhookEndpoint, WebhookEvent
from keyplane.models.base import stored_text
from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant

AGENT = "Agent/1.0 (Zürich; 東京) " + "x" * 600
"""Longer than the column (512): the batch keeps its first 512 characters, as a change's
event does."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhooks_allow_private": True})


def _id_text(value: Any) -> str:
    """A stored id as 32 hex digits (SQLite stores text, PostgreSQL a ``uuid``)."""
    return value.hex if isinstance(value, uuid.UUID) else str(value)


async def _stored(session: AsyncSession, table: str, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """The rows of ``table`` with these ids, as the database returns them (no type's
    processing), in the order of ``ids``."""
    rows = [dict(row._mapping) for row in await session.execute(text(f"SELECT * FROM {table}"))]
    by_id = {_id_text(row["id"]): row for row in rows}
    return [by_id[each.hex] for each in ids]


def _comparable(row: dict[str, Any], *ignored: str) -> dict[str, Any]:
    """``row`` without ``ignored``, its JSON documents parsed (SQLite keeps the text, whose
    spacing is the writer's)."""
    kept = {name: value for name, value in row.items() if name not in ignored}
    if isinstance(kept.get("metadata"), str):
        kept["metadata"] = json.loads(kept["metadata"])
    return kept


async def test_a_batched_event_and_its_delivery_are_stored_as_the_orm_stores_them(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    services = services_of(app)
    await services.webhooks.stop()  # its deliveries stay as they were written
    hook = await factories.webhook_endpoint(client, acme, "http://127.0.0.1:9/hooks")
    product = await factories.product(client, acme)
    policy = await factories.policy(client, acme, product)
    license_id = uuid.UUID((await factories.license(client, acme, policy))["id"])
    origin = Origin("caller-request-ü", "2001:db8::7", AGENT)

    events.validated(
        services.events, acme.id, license_id, uuid.UUID(product), False, "EXPIRED", None, lambda: origin
    )
    assert await services.events.flush() == 1

    async with services.db.reader() as session:
        batched = await session.scalar(select(Event).where(Event.event == "license.validation.failed"))
        assert batched is not None
        sent = await session.scalar(select(WebhookEvent).where(WebhookEvent.event_id == batched.id))
        assert sent is not None
        endpoint = await session.get(WebhookEndpoint, uuid.UUID(hook["id"]))
        assert endpoint is not None
    # What was noted, as the event log reads it back.
    assert (batched.account_id, batched.resource_type, batched.resource_id) == (
        acme.id,
        "license",
        license_id,
    )
    assert (batched.whodunnit_type, batched.whodunnit_id) == ("license", license_id)
    assert (batched.request_id, batched.address, batched.user_agent) == (
        "caller-request-ü",
        "2001:db8::7",
        AGENT[:512],
    )
    assert (batched.meta, batched.product_id) == ({"code": "EXPIRED"}, uuid.UUID(product))
    assert (sent.status, sent.attempts, sent.payload, sent.claimed_until) == ("DELIVERING", 0, None, None)
    assert sent.next_attempt_at == sent.created_at == sent.updated_at

    # The same event and delivery, written by the ORM.
    twin_id = uuid7()
    twin_delivery = WebhookEvent.due_now(
        endpoint,
        twin_id,
        batched.event,
        batched.resource_type,
        batched.resource_id,
        endpoint.api_version,
        sent.created_at,
    )
    async with services.db.writer() as session:
        session.add(
            Event(
                id=twin_id,
                account_id=batched.account_id,
                event=batched.event,
                resource_type=batched.resource_type,
                resource_id=batched.resource_id,
                product_id=batched.product_id,
                whodunnit_type=batched.whodunnit_type,
                whodunnit_id=batched.whodunnit_id,
                request_id=batched.request_id,
                address=batched.address,
                user_agent=batched.user_agent,
                meta=batched.meta,
                created_at=batched.created_at,
            )
        )
        session.add(twin_delivery)
        await session.commit()

    async with services.db.reader() as session:
        ours, theirs = await _stored(session, "events", [batched.id, twin_id])
        our_delivery, their_delivery = await _stored(session, "webhook_events", [sent.id, twin_delivery.id])
    assert _comparable(ours, "id") == _comparable(theirs, "id")
    assert _comparable(our_delivery, "id", "event_id") == _comparable(their_delivery, "id", "event_id")
    assert _id_text(our_delivery["event_id"]) == batched.id.hex
    if services.db.is_sqlite:
        # The very text SQLAlchemy stores, so that times of both kinds sort and compare alike.
        assert ours["created_at"] == stored_text(batched.created_at)


def test_every_column_of_both_tables_is_written_by_the_batch() -> None:
    """A column added to either table must be given a value by the batch (or the insert
    would leave it to the database's default, which the ORM's defaults do not set)."""
    for rows, model in ((EVENTS, Event), (DELIVERIES, WebhookEvent)):
        table = model.__table__
        assert isinstance(table, Table)
        assert set(rows.columns) == {column.name for column in table.columns}
