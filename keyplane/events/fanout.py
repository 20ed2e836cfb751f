"""An event's webhook deliveries, added to the transaction that records the event: the
outbox rows the delivery worker sends from. Nothing here sends anything, so a change never
waits on a receiver, and a change that rolls back leaves no delivery behind."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.events import repository
from keyplane.events.names import ResourceType
from keyplane.kit import clock
from keyplane.models import Event, WebhookEndpoint, WebhookEvent

CHUNK = 1_000
"""Delivery rows per statement of a bulk insert (as ``keyplane.events.batch.CHUNK``)."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """What fan-out needs of an event."""

    id: uuid.UUID
    account_id: uuid.UUID
    event: str
    resource_type: str
    resource_id: uuid.UUID
    product_id: uuid.UUID | None

    @classmethod
    def of(cls, row: Event) -> Occurrence:
        return cls(row.id, row.account_id, row.event, row.resource_type, row.resource_id, row.product_id)

    @classmethod
    def of_values(cls, values: dict[str, Any]) -> Occurrence:
        return cls(
            values["id"],
            values["account_id"],
            values["event"],
            values["resource_type"],
            values["resource_id"],
            values["product_id"],
        )


EVERY_PRODUCT_READS = frozenset({ResourceType.ENTITLEMENT.value})
"""Resources of the account that every product token may read (Keygen's
``Entitlement.accessible_by``): their events reach every product's endpoints, as Keygen's
BroadcastWebhookService sends a product's endpoint what its product may read."""


def receives(endpoint: WebhookEndpoint, occurrence: Occurrence) -> bool:
    """Whether ``endpoint`` is sent ``occurrence``: subscribed to its name (or ``*``) and, for
    a product's endpoint, about that product (or about what every product may read)."""
    if not endpoint.subscribed(occurrence.event):
        return False
    if endpoint.product_id is None or occurrence.resource_type in EVERY_PRODUCT_READS:
        return True
    return endpoint.product_id == occurrence.product_id


async def _due(session: AsyncSession, occurrences: Sequence[Occurrence]) -> list[dict[str, Any]]:
    """The delivery rows of ``occurrences``: one per occurrence and endpoint receiving it."""
    if not occurrences:
        return []
    endpoints = await repository.endpoints_of(session, {each.account_id for each in occurrences})
    if not endpoints:
        return []
    now = clock.now()
    return [
        WebhookEvent.due_now_values(
            endpoint,
            occurrence.id,
            occurrence.event,
            occurrence.resource_type,
            occurrence.resource_id,
            endpoint.api_version,
            now,
        )
        for occurrence in occurrences
        for endpoint in endpoints.get(occurrence.account_id, ())
        if receives(endpoint, occurrence)
    ]


async def deliveries(session: AsyncSession, occurrences: Sequence[Occurrence]) -> int:
    """Add a delivery of each occurrence to each endpoint that receives it; how many."""
    rows = await _due(session, occurrences)
    # Added, not inserted: they are flushed with the change (whose pending state the
    # caller may still be reading).
    session.add_all([WebhookEvent(**values) for values in rows])
    return len(rows)


DELIVERIES = insert(cast(Table, WebhookEvent.__table__))
"""A table's insert, without the ORM's mapping of each row (see ``keyplane.events.batch.EVENTS``)."""


async def insert_deliveries(session: AsyncSession, occurrences: Sequence[Occurrence]) -> int:
    """``deliveries`` for a transaction with nothing pending (the event batch's flush): the
    rows inserted at once, ``CHUNK`` a statement, without an ORM object each."""
    rows = await _due(session, occurrences)
    for start in range(0, len(rows), CHUNK):
        await session.execute(DELIVERIES, rows[start : start + CHUNK])
    return len(rows)
