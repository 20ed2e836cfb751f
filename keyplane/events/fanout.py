"""An event's webhook deliveries, added to the transaction that records the event: the
outbox rows the delivery worker sends from. Nothing here sends anything, so a change never
waits on a receiver, and a change that rolls back leaves no delivery behind."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.events import repository
from keyplane.events.names import ResourceType
from keyplane.kit import clock
from keyplane.kit.ids import uuid7
from keyplane.models import Event, WebhookEndpoint, WebhookEvent
from keyplane.models.bulk import JsonRows


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


async def _pairs(
    session: AsyncSession, occurrences: Sequence[Occurrence]
) -> list[tuple[Occurrence, WebhookEndpoint]]:
    """Each occurrence with each endpoint that receives it: one delivery each."""
    if not occurrences:
        return []
    endpoints = await repository.endpoints_of(session, {each.account_id for each in occurrences})
    if not endpoints:
        return []
    return [
        (occurrence, endpoint)
        for occurrence in occurrences
        for endpoint in endpoints.get(occurrence.account_id, ())
        if receives(endpoint, occurrence)
    ]


def _values(occurrence: Occurrence, endpoint: WebhookEndpoint, now: datetime) -> dict[str, Any]:
    return WebhookEvent.due_now_values(
        endpoint,
        occurrence.id,
        occurrence.event,
        occurrence.resource_type,
        occurrence.resource_id,
        endpoint.api_version,
        now,
    )


async def deliveries(session: AsyncSession, occurrences: Sequence[Occurrence]) -> int:
    """Add a delivery of each occurrence to each endpoint that receives it; how many."""
    now = clock.now()
    pairs = await _pairs(session, occurrences)
    # Added, not inserted: they are flushed with the change (whose pending state the
    # caller may still be reading).
    session.add_all([WebhookEvent(**_values(occurrence, endpoint, now)) for occurrence, endpoint in pairs])
    return len(pairs)


DELIVERIES = JsonRows(
    cast(Table, WebhookEvent.__table__),
    [
        "id",
        "account_id",
        "endpoint_id",
        "endpoint",
        "event_id",
        "event",
        "resource_type",
        "resource_id",
        "api_version",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "last_response_code",
        "last_response_body",
        "created_at",
        "updated_at",
    ],
)
"""The deliveries of the event batch's flush, all in one statement (see ``JsonRows``)."""


OWN = tuple(
    DELIVERIES.columns.index(name) for name in ("id", "event_id", "event", "resource_type", "resource_id")
)
"""Where two deliveries to one endpoint, made at one time, differ: their own id and their
event's (the rest of ``WebhookEvent.due_now_values`` comes from the endpoint and the time)."""


async def insert_deliveries(session: AsyncSession, dialect: str, occurrences: Sequence[Occurrence]) -> int:
    """``deliveries`` for a transaction with nothing pending (the event batch's flush): every
    row in one statement, without an ORM object each. A row is its endpoint's (the first
    delivery's, in ``DELIVERIES``' JSON form) with its ``OWN`` values in place."""
    now = clock.now()
    rows: list[list[Any]] = []
    made: dict[uuid.UUID, list[Any]] = {}
    at_id, at_event_id, at_event, at_type, at_resource = OWN
    for occurrence, endpoint in await _pairs(session, occurrences):
        first = made.get(endpoint.id)
        if first is None:
            first = made[endpoint.id] = DELIVERIES.row(_values(occurrence, endpoint, now))
            rows.append(first)
            continue
        row = first.copy()
        row[at_id] = uuid7().hex
        row[at_event_id] = occurrence.id.hex
        row[at_event] = occurrence.event
        row[at_type] = occurrence.resource_type
        row[at_resource] = occurrence.resource_id.hex
        rows.append(row)
    if rows:
        await session.execute(DELIVERIES.statement(dialect), DELIVERIES.encoded(rows))
    return len(rows)
