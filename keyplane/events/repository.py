"""Queries on the event log."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.events.schemas import EventFilters
from keyplane.kit import paging
from keyplane.models import Event, WebhookEndpoint


def _conditions(account_id: uuid.UUID, filters: EventFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Event.account_id == account_id]
    if filters.events:
        conditions.append(Event.event.in_(filters.events))
    if filters.resource_type is not None:
        conditions.append(Event.resource_type == filters.resource_type.value)
    if filters.resource_id is not None:
        conditions.append(Event.resource_id == filters.resource_id)
    if filters.whodunnit_type is not None:
        conditions.append(Event.whodunnit_type == filters.whodunnit_type.value)
    if filters.whodunnit_id is not None:
        conditions.append(Event.whodunnit_id == filters.whodunnit_id)
    if filters.request_id is not None:
        conditions.append(Event.request_id == filters.request_id)
    if filters.since is not None:
        conditions.append(Event.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(Event.created_at < filters.until)
    return conditions


async def page(
    session: AsyncSession, account_id: uuid.UUID, filters: EventFilters, paged: paging.Paging
) -> paging.Page[Event]:
    return await paging.fetch(session, paged, select(Event), Event.id, _conditions(account_id, filters))


async def get(session: AsyncSession, account_id: uuid.UUID, event_id: uuid.UUID) -> Event | None:
    found: Event | None = await session.scalar(
        select(Event).where(Event.account_id == account_id, Event.id == event_id)
    )
    return found


async def delete_before(session: AsyncSession, before: datetime, batch: int) -> int:
    """Delete up to ``batch`` of the oldest events created before ``before``; how many."""
    oldest = select(Event.id).where(Event.created_at < before).order_by(Event.created_at).limit(batch)
    ids = list((await session.scalars(oldest)).all())
    if ids:
        await session.execute(delete(Event).where(Event.id.in_(ids)))
    return len(ids)


async def endpoints_of(
    session: AsyncSession, account_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookEndpoint]]:
    """The accounts' endpoints, by account. Read without flushing: the caller's change is
    still pending (and read) when its event fans out."""
    found: dict[uuid.UUID, list[WebhookEndpoint]] = {}
    with session.no_autoflush:
        rows = await session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.account_id.in_(account_ids))
        )
        for endpoint in rows:
            found.setdefault(endpoint.account_id, []).append(endpoint)
    return found
